"""Rule values from a Prometheus server's HTTP API, with ``httpx``: instant queries for the values,
the exemplars API for the trace of a slow observation, range queries for the charts.

``httpx`` is imported when a source is created, not with this module: the in-process report and
``performance_router`` import the rules package without needing an HTTP client.
"""

from __future__ import annotations

import math
import time
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import httpx

from otelperf.rules._names import PROMETHEUS_NAMES, label
from otelperf.rules.model import Rule
from otelperf.rules.promql import render, render_overall

__all__ = ["PrometheusSource", "QueryError", "SourceUnavailable", "window_seconds"]

_UNIT_S = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def window_seconds(window: str) -> float:
    """A PromQL duration (``90s``, ``15m``, ``1h``) in seconds; ``ValueError`` for anything else."""
    try:
        return float(window[:-1]) * _UNIT_S[window[-1]]
    except (ValueError, KeyError, IndexError):
        raise ValueError(f"--window {window!r} is not a duration such as 90s, 15m or 1h") from None


def _quoted(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"')


class SourceUnavailable(RuntimeError):
    """The metrics backend cannot be asked at all (down, wrong URL, not Prometheus)."""


class QueryError(RuntimeError):
    """Prometheus refused one query (for a user's PromQL rule: a syntax error, say)."""


class PrometheusSource:
    def __init__(
        self,
        url: str,
        *,
        service: str | None = None,
        window: str = "15m",
        instance: str | None = None,
        timeout_s: float = 10.0,
        client: httpx.Client | None = None,
        until: float | None = None,
    ) -> None:
        """``until``: the window ends then (unix seconds; a load test's end) rather than now."""
        import httpx

        self.url = url.rstrip("/")
        self.window = window
        self.window_s = window_seconds(window)
        self.until = until
        self._client = client or httpx.Client(timeout=timeout_s)
        self.service = service or self._only_service()
        if service is not None and service not in self._jobs():
            known = ", ".join(self._jobs()) or "none yet"
            raise SourceUnavailable(
                f"Prometheus at {self.url} has no otelperf metrics for job {service!r} (jobs: {known})"
            )
        self.selector = f'job="{self.service}"' + (f', instance="{instance}"' if instance else "")
        self.last_query = ""

    def describe(self) -> str:
        if self.until is not None:
            return f"Prometheus at {self.url}, job={self.service!r}, {self.window} up to {self.until:.0f}"
        return f"Prometheus at {self.url}, job={self.service!r}, last {self.window}"

    def _end(self) -> float:
        return self.until if self.until is not None else time.time()

    def evaluate(self, rule: Rule, by: tuple[str, ...]) -> dict[tuple[str, ...], float]:
        labels = tuple(label(attribute) for attribute in by)
        self.last_query = render(rule, selector=self.selector, window=self.window, group=labels)
        values: dict[tuple[str, ...], float] = {}
        for series in self.query(self.last_query):
            value = float(series["value"][1])
            if math.isfinite(value):
                values[tuple(series["metric"].get(name, "") for name in labels)] = value
        return values

    def exemplar(self, metric: str, labels: dict[str, str]) -> dict[str, Any] | None:
        """The exemplar of the largest value of ``metric``'s buckets with ``labels`` in the window."""
        matchers = [self.selector, *(f'{label(name)}="{_quoted(value)}"' for name, value in labels.items())]
        series = f"{PROMETHEUS_NAMES[metric]}_bucket{{{', '.join(matchers)}}}"
        now = self._end()
        found = self._get(
            "/api/v1/query_exemplars", {"query": series, "start": f"{now - self.window_s:.3f}", "end": f"{now:.3f}"}
        )
        best: dict[str, Any] | None = None
        for entry in found:
            for exemplar in entry.get("exemplars", []):
                trace_id = exemplar.get("labels", {}).get("trace_id")
                value = float(exemplar.get("value", "nan"))
                if trace_id and math.isfinite(value) and (best is None or value > best["value"]):
                    best = {
                        "trace_id": trace_id,
                        "span_id": exemplar.get("labels", {}).get("span_id", ""),
                        "value": value,
                        "time": float(exemplar.get("timestamp", 0)),
                    }
        return best

    def series(self, rule: Rule) -> list[tuple[float, float]]:
        """The value ``rule`` scores over the window: a range query, 60 steps, each over a tenth of the
        window (at least two steps)."""
        step = max(self.window_s / 60, 1.0)
        stretch = max(self.window_s / 10, 2 * step)
        expression = render_overall(rule, selector=self.selector, window=f"{stretch:.0f}s", group=())
        now = self._end()
        found = self._get(
            "/api/v1/query_range",
            {"query": expression, "start": f"{now - self.window_s:.3f}", "end": f"{now:.3f}", "step": f"{step:.3f}"},
        )["result"]
        points = [(float(at), float(value)) for entry in found[:1] for at, value in entry.get("values", [])]
        return [(at, value) for at, value in points if math.isfinite(value)]

    def query(self, expression: str) -> list[dict[str, Any]]:
        params = {"query": expression}
        if self.until is not None:
            params["time"] = f"{self.until:.3f}"
        result: list[dict[str, Any]] = self._get("/api/v1/query", params)["result"]
        return result

    def _get(self, path: str, params: dict[str, str]) -> Any:
        import httpx

        try:
            response = self._client.get(f"{self.url}{path}", params=params)
        except httpx.HTTPError as exc:
            raise SourceUnavailable(f"Prometheus at {self.url} does not answer ({type(exc).__name__}: {exc})") from None
        try:
            body = response.json()
        except ValueError:
            raise SourceUnavailable(
                f"{self.url} answered HTTP {response.status_code} without JSON: is it Prometheus?"
            ) from None
        if body.get("status") != "success":
            raise QueryError(f"{body.get('errorType', 'error')}: {body.get('error', response.text[:200])}")
        return body["data"]

    def _jobs(self) -> list[str]:
        """The services (``job`` labels) that have any metric otelperf knows."""
        names = "|".join(sorted(PROMETHEUS_NAMES.values()))
        found = self.query(f'group by (job) ({{__name__=~"{names}"}})')
        return sorted({series["metric"].get("job", "") for series in found} - {""})

    def _only_service(self) -> str:
        jobs = self._jobs()
        if len(jobs) == 1:
            return str(jobs[0])
        if not jobs:
            raise SourceUnavailable(f"Prometheus at {self.url} has no otelperf metrics yet (no job to report on)")
        raise SourceUnavailable(f"several services in Prometheus, choose one with --service: {', '.join(jobs)}")
