"""Rule values from a Prometheus server's HTTP API (instant queries), with ``httpx``.

``httpx`` is imported when a source is created, not with this module: the in-process report and
``performance_router`` import the rules package without needing an HTTP client.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import httpx

from otelperf.rules._names import PROMETHEUS_NAMES, label
from otelperf.rules.model import Rule
from otelperf.rules.promql import render

__all__ = ["PrometheusSource", "QueryError", "SourceUnavailable"]


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
    ) -> None:
        import httpx

        self.url = url.rstrip("/")
        self.window = window
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
        return f"Prometheus at {self.url}, job={self.service!r}, last {self.window}"

    def evaluate(self, rule: Rule, by: tuple[str, ...]) -> dict[tuple[str, ...], float]:
        labels = tuple(label(attribute) for attribute in by)
        self.last_query = render(rule, selector=self.selector, window=self.window, group=labels)
        values: dict[tuple[str, ...], float] = {}
        for series in self.query(self.last_query):
            value = float(series["value"][1])
            if math.isfinite(value):
                values[tuple(series["metric"].get(name, "") for name in labels)] = value
        return values

    def query(self, expression: str) -> list[dict[str, Any]]:
        import httpx

        try:
            response = self._client.get(f"{self.url}/api/v1/query", params={"query": expression})
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
        result: list[dict[str, Any]] = body["data"]["result"]
        return result

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
