"""Credentials out of URLs and HTTP headers, before a span leaves the process.

Query strings carry tokens (``?token=...``, signed URLs), URLs carry ``user:password@``, and
captured headers carry ``Authorization`` and cookies. otelperf keeps the shape (parameter names,
header names) and drops every value: ``token=?&page=?``. The same rule as for SQL: values never
leave, whatever their name, so there is no list of "sensitive" parameters to keep up to date.
"""

from __future__ import annotations

import functools
import re

__all__ = ["SENSITIVE_HEADERS", "URL_ATTRIBUTES", "is_sensitive_header_attribute", "redact_query", "redact_url"]

# Span attributes that hold a URL, a target or a query, in current and older conventions.
URL_ATTRIBUTES = ("url.full", "url.query", "http.url", "http.target", "url.original")
# Header names whose values are credentials; also the default for contrib's own sanitizer
# (OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_SANITIZE_FIELDS, which takes regular expressions).
SENSITIVE_HEADERS = (
    "authorization",
    "proxy-authorization",
    "cookie",
    "set-cookie",
    "x-api-key",
    "x-auth-token",
    "x-csrf-token",
    ".*token.*",
    ".*secret.*",
    ".*password.*",
    ".*session.*",
)
_SENSITIVE = re.compile("|".join(SENSITIVE_HEADERS), re.IGNORECASE)
_HEADER_PREFIXES = ("http.request.header.", "http.response.header.")
_PAIR = re.compile(r"([^&=;]*)(=)[^&;]*")
_USERINFO = re.compile(r"^([a-zA-Z][a-zA-Z0-9+.-]*://)[^/@?#]*@")


@functools.lru_cache(maxsize=2048)
def redact_query(query: str) -> str:
    """``a=1&b=x`` -> ``a=?&b=?`` (a bare value, with no ``=``, becomes ``?`` too)."""
    if not query:
        return query
    return "&".join(_PAIR.sub(r"\1=?", part) if "=" in part else "?" for part in query.split("&"))


@functools.lru_cache(maxsize=2048)
def redact_url(url: str) -> str:
    """Drops the userinfo of a URL, the values of its query string and its fragment (which starts at
    the first ``#`` and may hold tokens too); keeps the rest."""
    clean, hash_mark, fragment = _USERINFO.sub(r"\1", url).partition("#")
    path, mark, query = clean.partition("?")
    return f"{path}{mark}{redact_query(query)}{hash_mark}{fragment and '?'}"


def is_sensitive_header_attribute(key: str) -> bool:
    """Whether ``key`` is a captured header (``http.request.header.<name>``) that holds credentials."""
    if not key.startswith(_HEADER_PREFIXES):
        return False
    name = key.rsplit(".", 1)[-1].replace("_", "-")
    return bool(_SENSITIVE.fullmatch(name))
