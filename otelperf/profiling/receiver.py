"""A local stand-in for a Pyroscope server: receives the agent's uploads, answers flamegraph queries.

``otelperf demo`` runs one when no Pyroscope address is configured, so the demo's report names each
route's hottest functions without a profiling server; the end-to-end tests use it as their
Pyroscope. It listens on 127.0.0.1 only and keeps the last ``max_pushes`` uploads in memory.

- ``POST /push.v1.PusherService/Push``: what ``pyroscope-io`` sends, a (gzip'd) protobuf
  ``push.v1.PushRequest`` whose series carry labels and raw pprof profiles (gzip'd
  ``perftools.profiles.Profile``). The message classes are built at first use with
  ``google.protobuf``'s descriptor API (protobuf is already installed for the OTLP exporters), with
  the field numbers of Pyroscope's ``push.v1``/``types.v1`` API and of pprof's ``profile.proto``;
  only the fields read here are declared (protobuf skips the others).
- ``GET /pyroscope/render?query=type{label="v", label=~"re"}&from=...&until=...``: Pyroscope's
  flamebearer JSON for the samples the selector matches among the uploads received in that time
  (``now-15m``, ``now-30s``, ``now`` or unix seconds; the upload's arrival stands for its samples'
  time), so ``otelperf.rules.pyroscope.PyroscopeProfiles`` reads it as it reads a real server.
"""

from __future__ import annotations

import gzip
import http.server
import json
import math
import re
import threading
import time
import urllib.parse
from collections import deque
from dataclasses import dataclass, field
from functools import cache
from typing import Any

__all__ = ["ProfileReceiver", "Sample", "decode_push", "flamebearer", "select"]

PUSH_PATH = "/push.v1.PusherService/Push"

# message -> [(field name, number, type, repeated, message type name)]
_SCHEMA: dict[str, dict[str, list[tuple[str, int, str, bool, str]]]] = {
    "push.v1": {
        "LabelPair": [("name", 1, "string", False, ""), ("value", 2, "string", False, "")],
        "RawSample": [("raw_profile", 1, "bytes", False, ""), ("ID", 2, "string", False, "")],
        "RawProfileSeries": [
            ("labels", 1, "message", True, ".push.v1.LabelPair"),
            ("samples", 2, "message", True, ".push.v1.RawSample"),
        ],
        "PushRequest": [("series", 1, "message", True, ".push.v1.RawProfileSeries")],
    },
    "perftools.profiles": {
        "ValueType": [("type", 1, "int64", False, ""), ("unit", 2, "int64", False, "")],
        "Label": [("key", 1, "int64", False, ""), ("str", 2, "int64", False, ""), ("num", 3, "int64", False, "")],
        "Sample": [
            ("location_id", 1, "uint64", True, ""),
            ("value", 2, "int64", True, ""),
            ("label", 3, "message", True, ".perftools.profiles.Label"),
        ],
        "Line": [("function_id", 1, "uint64", False, ""), ("line", 2, "int64", False, "")],
        "Location": [("id", 1, "uint64", False, ""), ("line", 4, "message", True, ".perftools.profiles.Line")],
        "Function": [
            ("id", 1, "uint64", False, ""),
            ("name", 2, "int64", False, ""),
            ("filename", 4, "int64", False, ""),
        ],
        "Profile": [
            ("sample_type", 1, "message", True, ".perftools.profiles.ValueType"),
            ("sample", 2, "message", True, ".perftools.profiles.Sample"),
            ("location", 4, "message", True, ".perftools.profiles.Location"),
            ("function", 5, "message", True, ".perftools.profiles.Function"),
            ("string_table", 6, "string", True, ""),
            ("period", 12, "int64", False, ""),
        ],
    },
}


@cache
def _classes() -> dict[str, Any]:
    from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

    types = {
        "string": descriptor_pb2.FieldDescriptorProto.TYPE_STRING,
        "bytes": descriptor_pb2.FieldDescriptorProto.TYPE_BYTES,
        "int64": descriptor_pb2.FieldDescriptorProto.TYPE_INT64,
        "uint64": descriptor_pb2.FieldDescriptorProto.TYPE_UINT64,
        "message": descriptor_pb2.FieldDescriptorProto.TYPE_MESSAGE,
    }
    pool = descriptor_pool.DescriptorPool()
    classes: dict[str, Any] = {}
    for package, messages in _SCHEMA.items():
        file_proto = descriptor_pb2.FileDescriptorProto(
            name=f"{package}.otelperf.proto", package=package, syntax="proto3"
        )
        for message, fields in messages.items():
            message_proto = file_proto.message_type.add(name=message)
            for name, number, kind, repeated, type_name in fields:
                field_proto = message_proto.field.add(
                    name=name,
                    number=number,
                    type=types[kind],
                    label=descriptor_pb2.FieldDescriptorProto.LABEL_REPEATED
                    if repeated
                    else descriptor_pb2.FieldDescriptorProto.LABEL_OPTIONAL,
                )
                if type_name:
                    field_proto.type_name = type_name
        pool.Add(file_proto)
        for message in messages:
            classes[f"{package}.{message}"] = message_factory.GetMessageClass(
                pool.FindMessageTypeByName(f"{package}.{message}")
            )
    return classes


@dataclass
class Sample:
    """One pprof sample: series labels merged with the sample's own, leaf-first function names and
    the line number of each."""

    labels: dict[str, str]
    stack: list[str]
    value: int
    lines: list[int] = field(default_factory=list)


def _maybe_gunzip(data: bytes) -> bytes:
    return gzip.decompress(data) if data[:2] == b"\x1f\x8b" else data


def decode_push(body: bytes) -> list[Sample]:
    """The samples of one ``push.v1.PushRequest`` body (gzip'd or not)."""
    classes = _classes()
    request = classes["push.v1.PushRequest"]()
    request.ParseFromString(_maybe_gunzip(body))
    samples: list[Sample] = []
    for series in request.series:
        series_labels = {pair.name: pair.value for pair in series.labels}
        for raw in series.samples:
            profile = classes["perftools.profiles.Profile"]()
            profile.ParseFromString(_maybe_gunzip(raw.raw_profile))
            strings = list(profile.string_table)
            functions = {function.id: strings[function.name] for function in profile.function}
            locations = {
                location.id: [(functions.get(line.function_id, "?"), line.line) for line in location.line]
                for location in profile.location
            }
            for sample in profile.sample:
                frames = [frame for location_id in sample.location_id for frame in locations.get(location_id, [])]
                labels = dict(series_labels)
                labels.update({strings[label.key]: strings[label.str] for label in sample.label if label.str})
                value = int(sample.value[0]) if sample.value else 0
                samples.append(Sample(labels, [name for name, _ in frames], value, [line for _, line in frames]))
    return samples


_MATCHER = re.compile(r'([a-zA-Z_][a-zA-Z0-9_.]*)\s*(=~|!=|=)\s*"((?:[^"\\]|\\.)*)"')


def select(samples: list[Sample], query: str) -> list[Sample]:
    """The samples a Pyroscope query selects (``type{label="v", label=~"re", label!="v"}``)."""
    selector = query[query.index("{") + 1 : query.rindex("}")] if "{" in query else ""
    matchers = [(name, op, value.encode().decode("unicode_escape")) for name, op, value in _MATCHER.findall(selector)]

    def matches(sample: Sample) -> bool:
        for name, op, value in matchers:
            actual = sample.labels.get(name, "")
            if (op == "=" and actual != value) or (op == "!=" and actual == value):
                return False
            if op == "=~" and not re.fullmatch(value, actual):
                return False
        return True

    return [sample for sample in samples if matches(sample)]


def flamebearer(samples: list[Sample]) -> dict[str, Any]:
    """Pyroscope's render format for ``samples``: one path per sample under ``total`` (unmerged,
    which the format allows), each level a list of [x delta, total, self, name index]."""
    names = ["total"]
    index = {"total": 0}
    total = sum(sample.value for sample in samples)
    levels: list[list[int]] = [[0, total, 0, 0]]
    ends: list[int] = [total]  # where the previous node of each level ended
    x = 0
    for sample in samples:
        path = list(reversed(sample.stack))  # root first
        for depth, name in enumerate(path, start=1):
            if name not in index:
                index[name] = len(names)
                names.append(name)
            if len(levels) <= depth:
                levels.append([])
                ends.append(0)
            leaf = depth == len(path)
            levels[depth] += [x - ends[depth], sample.value, sample.value if leaf else 0, index[name]]
            ends[depth] = x + sample.value
        x += sample.value
    return {"names": names, "levels": levels, "numTicks": total, "maxSelf": max((s.value for s in samples), default=0)}


class ProfileReceiver:
    """Accepts uploads on 127.0.0.1 and keeps the last ``max_pushes``; answers ``/pyroscope/render``."""

    def __init__(self, max_pushes: int = 2000) -> None:
        self.pushes: deque[tuple[str, bytes]] = deque(maxlen=max_pushes)
        self._arrivals: dict[bytes, float] = {}  # a kept body -> when it arrived (unix seconds)
        self._lock = threading.Lock()
        self._decoded: dict[bytes, list[Sample]] = {}  # a kept body -> its samples, decoded once
        self._server: http.server.ThreadingHTTPServer | None = None

    @property
    def endpoint(self) -> str:
        if self._server is None:
            raise RuntimeError("the profile receiver is not started")
        return f"http://127.0.0.1:{self._server.server_port}"

    def start(self) -> ProfileReceiver:
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                receiver.keep(self.path, body)
                self.send_response(200)
                self.send_header("Content-Type", "application/proto")
                self.send_header("Content-Length", "0")
                self.end_headers()

            def do_GET(self) -> None:
                url = urllib.parse.urlsplit(self.path)
                if url.path != "/pyroscope/render":
                    self.send_error(404)
                    return
                params = urllib.parse.parse_qs(url.query)
                query = params.get("query", [""])[0]
                try:
                    since = _instant(params.get("from", ["0"])[0])
                    until = _instant(params.get("until", ["now"])[0])
                    samples = receiver.samples(since, until)
                    payload = json.dumps({"flamebearer": flamebearer(select(samples, query))}).encode()
                except Exception as exc:  # noqa: BLE001 - an undecodable upload is the client's answer, not a crash
                    self.send_error(500, f"{type(exc).__name__}: {exc}")
                    return
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args: Any) -> None:
                return None

        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, name="otelperf-profile-receiver", daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    def keep(self, path: str, body: bytes) -> None:
        with self._lock:
            self._arrivals[body] = time.time()
            self.pushes.append((path, body))
            if len(self._arrivals) > 2 * len(self.pushes) + 100:  # forget the bodies that left the deque
                self._arrivals = {kept: self._arrivals[kept] for _, kept in self.pushes}

    def samples(self, since: float = 0.0, until: float = math.inf) -> list[Sample]:
        """Every sample of the uploads kept that arrived between ``since`` and ``until`` (unix seconds)."""
        with self._lock:
            kept = [(path, body) for path, body in self.pushes if path == PUSH_PATH]
            # Forget the bodies that left the deque.
            self._arrivals = {body: self._arrivals.get(body, 0.0) for _, body in kept}
            arrivals = dict(self._arrivals)
        decoded = {body: self._decoded.get(body) or decode_push(body) for _, body in kept}
        self._decoded = decoded
        return [sample for _, body in kept if since <= arrivals[body] <= until for sample in decoded[body]]


_UNITS_S = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def _instant(text: str) -> float:
    """``now``, ``now-15m`` or unix seconds, as unix seconds."""
    if text == "now":
        return time.time()
    if text.startswith("now-"):
        amount, unit = text[4:-1], text[-1]
        return time.time() - float(amount) * _UNITS_S[unit]
    return float(text)
