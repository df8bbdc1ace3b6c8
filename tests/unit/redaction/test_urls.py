"""URLs, query strings and captured headers: the shape is kept, every value and credential dropped."""

from __future__ import annotations

import pytest

from otelperf.redaction.urls import is_sensitive_header_attribute, redact_query, redact_url


@pytest.mark.parametrize(
    ("query", "redacted"),
    [
        ("", ""),
        ("token=abc&page=2", "token=?&page=?"),
        ("flag", "?"),  # a bare value
        ("a=1;b=2", "a=?;b=?"),
        ("sig=a=b==", "sig=?"),  # padding inside the value
        ("q=", "q=?"),
    ],
)
def test_a_query_keeps_its_parameter_names_only(query: str, redacted: str) -> None:
    assert redact_query(query) == redacted


@pytest.mark.parametrize(
    ("url", "redacted"),
    [
        ("https://api.example.com/v1/items", "https://api.example.com/v1/items"),
        ("https://bob:hunter2@db.example.com:5432/x", "https://db.example.com:5432/x"),
        ("https://api.example.com/v1/x?sig=zzz&page=2", "https://api.example.com/v1/x?sig=?&page=?"),
        ("/items/7?id=5", "/items/7?id=?"),  # a target
        ("https://example.com/p?email=a@b.com", "https://example.com/p?email=?"),  # an @ that is no userinfo
        ("https://u:p@example.com/cb?state=s#frag", "https://example.com/cb?state=?#?"),
        # A fragment without a query holds values too (the implicit OAuth flow's access token).
        ("https://example.com/callback#access_token=secret&expires_in=3600", "https://example.com/callback#?"),
        ("https://example.com/page#section-2", "https://example.com/page#?"),
        ("https://example.com/p#a?token=secret", "https://example.com/p#?"),  # a ? inside the fragment
    ],
)
def test_a_url_loses_its_userinfo_and_values_and_keeps_its_shape(url: str, redacted: str) -> None:
    assert redact_url(url) == redacted
    assert redact_url(redacted) == redacted  # idempotent: a redacted URL goes through unchanged


@pytest.mark.parametrize(
    ("key", "sensitive"),
    [
        ("http.request.header.authorization", True),
        ("http.request.header.Authorization", True),
        ("http.request.header.x_api_key", True),  # contrib's attribute names use underscores
        ("http.response.header.set_cookie", True),
        ("http.request.header.x_session_id", True),
        ("http.request.header.x_refresh_token", True),
        ("http.request.header.content_type", False),
        ("http.response.header.content_length", False),
        ("authorization", False),  # not a captured header
        ("url.query", False),
    ],
)
def test_captured_headers_holding_credentials_are_recognised(key: str, sensitive: bool) -> None:
    assert is_sensitive_header_attribute(key) is sensitive
