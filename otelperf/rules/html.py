"""The report as one self-contained HTML page (placeholder)."""

from __future__ import annotations

import html

from otelperf.rules.report import Report


def to_html(report: Report) -> str:
    return f"<!doctype html><title>{html.escape(report.service)}</title><p>{report.score}</p>"
