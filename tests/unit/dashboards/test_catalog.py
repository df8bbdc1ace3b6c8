"""The dashboards catalog: every panel described, with a unit and the service filter, and the
dashboards the rules may link to."""

from __future__ import annotations

from otelperf.dashboards.catalog import DASHBOARDS


def test_every_panel_has_a_unit_description_and_filters_by_service() -> None:
    for spec in DASHBOARDS:
        assert spec.panels, spec.uid
        for panel in spec.panels:
            assert panel.description and panel.unit, (spec.uid, panel.title)
            for query in panel.queries:
                assert "$service" in query.expr, (spec.uid, panel.title)


def test_the_dashboards_are_the_ones_rules_may_link_to() -> None:
    from otelperf.semconv import DASHBOARD_UIDS

    assert sorted(spec.uid for spec in DASHBOARDS) == sorted(DASHBOARD_UIDS.values())
