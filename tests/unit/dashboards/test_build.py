"""The dashboards built from the catalog: the committed JSON is what they render, and each links to the
others with the service and instance variables."""

from __future__ import annotations

import json
from pathlib import Path

from otelperf.dashboards.build import render_all

COMMITTED = Path(__file__).resolve().parents[3] / "grafana" / "dashboards"


def test_committed_dashboards_are_the_generated_ones() -> None:
    generated = render_all()
    committed = {path.name: path.read_text() for path in COMMITTED.glob("*.json")}
    assert set(committed) == set(generated), "run: otelperf dashboards generate"
    for name, text in generated.items():
        assert committed[name] == text, f"{name} is stale: run `otelperf dashboards generate`"


def test_dashboards_link_to_each_other_and_have_service_and_instance_variables() -> None:
    for text in render_all().values():
        dashboard = json.loads(text)
        names = [variable["name"] for variable in dashboard["templating"]["list"]]
        assert names[:2] == ["service", "instance"]
        assert dashboard["links"][0]["tags"] == ["otelperf"] and dashboard["links"][0]["includeVars"]
