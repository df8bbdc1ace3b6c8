from __future__ import annotations

import json
from pathlib import Path

from otelperf.dashboards.build import render_all
from otelperf.dashboards.catalog import DASHBOARDS

COMMITTED = Path(__file__).resolve().parents[3] / "grafana" / "dashboards"


def test_committed_dashboards_are_the_generated_ones() -> None:
    generated = render_all()
    committed = {path.name: path.read_text() for path in COMMITTED.glob("*.json")}
    assert set(committed) == set(generated), "run: otelperf dashboards generate"
    for name, text in generated.items():
        assert committed[name] == text, f"{name} is stale: run `otelperf dashboards generate`"


def test_every_panel_has_a_unit_description_and_filters_by_service() -> None:
    for spec in DASHBOARDS:
        assert spec.panels, spec.uid
        for panel in spec.panels:
            assert panel.description and panel.unit, (spec.uid, panel.title)
            for query in panel.queries:
                assert "$service" in query.expr, (spec.uid, panel.title)


def test_dashboards_link_to_each_other_and_have_service_and_instance_variables() -> None:
    for text in render_all().values():
        dashboard = json.loads(text)
        names = [variable["name"] for variable in dashboard["templating"]["list"]]
        assert names[:2] == ["service", "instance"]
        assert dashboard["links"][0]["tags"] == ["otelperf"] and dashboard["links"][0]["includeVars"]


def test_the_dashboards_are_the_ones_rules_may_link_to() -> None:
    from otelperf.semconv import DASHBOARD_UIDS

    assert sorted(spec.uid for spec in DASHBOARDS) == sorted(DASHBOARD_UIDS.values())
