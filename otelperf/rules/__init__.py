"""Performance rules: a score, a grade and ranked, evidence-backed recommendations.

Rules are data (``catalog/*.yaml``, overridable with ``OTELPERF_RULES_FILE`` or ``--rules``); they
are evaluated against Prometheus (``otelperf report``) or the in-process metrics
(``local_report()``, the demo, the opt-in ``/performance/report`` route), and exported as
Prometheus recording and alerting rules (``otelperf rules export``).
"""

from __future__ import annotations

import time

from otelperf.rules.loader import load_catalog, load_rules
from otelperf.rules.model import Rule, RuleError
from otelperf.rules.report import Report, build_report

__all__ = ["Report", "Rule", "RuleError", "build_report", "load_catalog", "load_rules", "local_report"]


def local_report(
    *,
    rules_file: str | None = None,
    window_s: float | None = None,
    since: float | None = None,
    until: float | None = None,
    charts: bool = False,
    profiles: bool = True,
) -> Report:
    """The report from this process's own metrics (needs ``OTELPERF_LOCAL_METRICS=true``).

    The window, to within ``OTELPERF_LOCAL_HISTORY_INTERVAL``: the last ``window_s`` seconds, or
    ``since`` to ``until`` (unix seconds; a load test's own stretch, however long the report waits
    for requests still in flight), otherwise since the first sample after start-up. ``charts``:
    each recommendation's value over the window. ``profiles``: when a Pyroscope address is
    configured, each route's top functions from it (a few HTTP queries).
    """
    from otelperf.pipeline.providers import (
        current_pipeline,
        local_baseline,
        local_gauge_history,
        local_metrics,
        local_snapshots,
    )
    from otelperf.rules.local import LocalSource, window_points

    pipeline = current_pipeline()
    if pipeline is None or pipeline.local_reader is None:
        raise RuntimeError("in-process metrics are off: set OTELPERF_LOCAL_METRICS=true to report from inside the app")
    service = str((pipeline.resource.attributes if pipeline.resource else {}).get("service.name", "unknown"))
    if since is None and window_s is not None:
        since = time.time() - window_s
    snapshots = local_snapshots()
    fresh = local_metrics()
    current, baseline = window_points(fresh, snapshots, local_baseline(), since, until)
    source = LocalSource(
        current,
        local_gauge_history(),
        baseline=baseline,
        snapshots=snapshots,
        since=since,
        until=until,
        exemplar_points=fresh,
    )
    settings = pipeline.settings
    lookup = None
    if profiles and settings.profiling_active and settings.pyroscope_endpoint:
        from otelperf.rules.pyroscope import PyroscopeProfiles

        lookup = PyroscopeProfiles(settings.pyroscope_endpoint, window="1h", timeout_s=5.0, since=since, until=until)
    chosen = rules_file if rules_file is not None else settings.rules_file
    return build_report(load_rules(chosen or None), source, service=service, profiles=lookup, charts=charts)
