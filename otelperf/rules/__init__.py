"""Performance rules: a score, a grade and ranked, evidence-backed recommendations.

Rules are data (``catalog/*.yaml``, overridable with ``OTELPERF_RULES_FILE`` or ``--rules``); they
are evaluated against Prometheus (``otelperf report``) or the in-process metrics
(``local_report()``, the demo, the opt-in ``/performance/report`` route), and exported as
Prometheus recording and alerting rules (``otelperf rules export``).
"""

from __future__ import annotations

from otelperf.rules.loader import load_catalog, load_rules
from otelperf.rules.model import Rule, RuleError
from otelperf.rules.report import Report, build_report

__all__ = ["Report", "Rule", "RuleError", "build_report", "load_catalog", "load_rules", "local_report"]


def local_report(*, rules_file: str | None = None, window_s: float | None = None) -> Report:
    """The report from this process's own metrics (needs ``OTELPERF_LOCAL_METRICS=true``)."""
    from otelperf.pipeline.providers import current_pipeline, local_baseline, local_gauge_history, local_metrics
    from otelperf.rules.local import LocalSource

    pipeline = current_pipeline()
    if pipeline is None or pipeline.local_reader is None:
        raise RuntimeError("in-process metrics are off: set OTELPERF_LOCAL_METRICS=true to report from inside the app")
    service = str((pipeline.resource.attributes if pipeline.resource else {}).get("service.name", "unknown"))
    source = LocalSource(local_metrics(), local_gauge_history(), baseline=local_baseline(), window_s=window_s)
    chosen = rules_file if rules_file is not None else pipeline.settings.rules_file
    return build_report(load_rules(chosen or None), source, service=service)
