"""The local profile receiver: decodes what the agent pushes and answers Pyroscope's render API."""

from __future__ import annotations

import gzip
import time
from collections.abc import Iterator

import httpx
import pytest

from otelperf.profiling.receiver import PUSH_PATH, ProfileReceiver, _classes, decode_push
from otelperf.rules.pyroscope import PyroscopeProfiles


def push_body(service: str, stacks: dict[tuple[str, ...], tuple[str, int]]) -> bytes:
    """A gzip'd ``push.v1.PushRequest``: one series, one pprof profile with a sample per stack
    (leaf first), each labelled with its ``span_name`` and worth the given number of ticks."""
    classes = _classes()
    profile = classes["perftools.profiles.Profile"]()
    strings = ["", "cpu", "nanoseconds", "span_name"]

    def intern(text: str) -> int:
        if text not in strings:
            strings.append(text)
        return strings.index(text)

    functions: dict[str, int] = {}
    for stack, (span_name, ticks) in stacks.items():
        sample = profile.sample.add()
        for name in stack:
            if name not in functions:
                functions[name] = len(functions) + 1
                profile.function.add(id=functions[name], name=intern(name))
                location = profile.location.add(id=functions[name])
                location.line.add(function_id=functions[name], line=1)
            sample.location_id.append(functions[name])
        sample.value.append(ticks)
        sample.label.add(key=intern("span_name"), str=intern(span_name))
    profile.string_table.extend(strings)
    request = classes["push.v1.PushRequest"]()
    series = request.series.add()
    series.labels.add(name="service_name", value=service)
    series.samples.add(raw_profile=gzip.compress(profile.SerializeToString()))
    return gzip.compress(request.SerializeToString())


@pytest.fixture
def receiver() -> Iterator[ProfileReceiver]:
    started = ProfileReceiver().start()
    yield started
    started.stop()


def test_pushes_are_decoded_with_their_labels_and_stacks() -> None:
    body = push_body("shop", {("leaf", "handler", "main"): ("GET /a", 7)})
    (sample,) = decode_push(body)
    assert sample.labels == {"service_name": "shop", "span_name": "GET /a"}
    assert sample.stack == ["leaf", "handler", "main"] and sample.value == 7


def test_render_answers_top_functions_per_route_over_a_time_range(receiver: ProfileReceiver) -> None:
    stacks = {
        ("render_invoice", "create_order", "main"): ("POST /orders", 60),
        ("json_dumps", "create_order", "main"): ("POST /orders", 20),
        ("get_item", "main"): ("GET /items/{item_id}", 20),
    }
    response = httpx.post(f"{receiver.endpoint}{PUSH_PATH}", content=push_body("shop", stacks))
    assert response.status_code == 200
    profiles = PyroscopeProfiles(receiver.endpoint, window="1m")
    query, functions = profiles.top_functions("shop", "/orders")
    assert 'span_name=~"[A-Z]+ /orders"' in query
    assert functions == [("render_invoice", 0.75), ("json_dumps", 0.25)]
    _, everything = profiles.top_functions("shop", None)
    assert everything[0] == ("render_invoice", 0.6)
    assert sorted(everything[1:]) == [("get_item", 0.2), ("json_dumps", 0.2)]
    assert profiles.top_functions("other", None)[1] == []
    # Uploads that arrived before the range are left out.
    later = PyroscopeProfiles(receiver.endpoint, since=time.time() + 5, until=time.time() + 10)
    assert later.top_functions("shop", None)[1] == []


def test_only_the_last_uploads_are_kept() -> None:
    small = ProfileReceiver(max_pushes=2).start()
    try:
        for route in ("/a", "/b", "/c"):
            body = push_body("shop", {(f"f{route}", "main"): (f"GET {route}", 1)})
            httpx.post(f"{small.endpoint}{PUSH_PATH}", content=body)
        assert sorted(sample.labels["span_name"] for sample in small.samples()) == ["GET /b", "GET /c"]
    finally:
        small.stop()
