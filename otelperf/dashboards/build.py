"""Turns the catalog into Grafana dashboard JSON with the Foundation SDK's builders."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from grafana_foundation_sdk.builders import dashboard, grafanapyroscope, prometheus, stat, timeseries
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models import common
from grafana_foundation_sdk.models import dashboard as model

from otelperf.dashboards.catalog import DASHBOARDS, HTTP, DashboardSpec, PanelSpec

PROMETHEUS = common.DataSourceRef(type_val="prometheus", uid="prometheus")
PYROSCOPE = common.DataSourceRef(type_val="grafana-pyroscope-datasource", uid="pyroscope")
CPU_PROFILE = "process_cpu:cpu:nanoseconds:cpu:nanoseconds"


def _thresholds(steps: tuple[tuple[float, str], ...]) -> dashboard.ThresholdsConfig:
    values = [
        model.Threshold(value=None if index == 0 else value, color=color) for index, (value, color) in enumerate(steps)
    ]
    return dashboard.ThresholdsConfig().mode(model.ThresholdsMode.ABSOLUTE).steps(values)


def _panel(spec: PanelSpec) -> Any:
    if spec.kind == "flamegraph":
        panel = dashboard.Panel().type("flamegraph").datasource(PYROSCOPE)
        for index, query in enumerate(spec.queries):
            panel = panel.with_target(
                grafanapyroscope.Dataquery()
                .ref_id(chr(65 + index))
                .profile_type_id(CPU_PROFILE)
                .label_selector(query.expr)
            )
        return panel.title(spec.title).description(spec.description).span(spec.width).height(12)
    builder: Any = stat.Panel() if spec.kind == "stat" else timeseries.Panel()
    builder = builder.title(spec.title).description(spec.description).unit(spec.unit).datasource(PROMETHEUS)
    builder = builder.span(spec.width).height(4 if spec.kind == "stat" else 8)
    if spec.thresholds:
        builder = builder.thresholds(_thresholds(spec.thresholds))
    for index, query in enumerate(spec.queries):
        target = prometheus.Dataquery().ref_id(chr(65 + index)).expr(query.expr).legend_format(query.legend or "__auto")
        if spec.exemplars:
            target = target.exemplar(True)
        builder = builder.with_target(target)
    return builder


def _variables(spec: DashboardSpec) -> list[Any]:
    service = (
        dashboard.QueryVariable("service")
        .label("Service")
        .datasource(PROMETHEUS)
        .query(f"label_values({HTTP}_count, job)")
        .refresh(model.VariableRefresh.ON_TIME_RANGE_CHANGED)
    )
    instance = (
        dashboard.QueryVariable("instance")
        .label("Instance")
        .datasource(PROMETHEUS)
        .query(f'label_values({HTTP}_count{{job="$service"}}, instance)')
        .multi(True)
        .include_all(True)
        .all_value(".*")
        .refresh(model.VariableRefresh.ON_TIME_RANGE_CHANGED)
    )
    variables = [service, instance]
    if spec.uid == "otelperf-profiles":
        variables.append(
            dashboard.QueryVariable("route")
            .label("Route (span_name)")
            .datasource(PROMETHEUS)
            .query(f'label_values({HTTP}_count{{job="$service"}}, http_route)')
            .regex("/(.*)/")
            .refresh(model.VariableRefresh.ON_TIME_RANGE_CHANGED)
        )
    return variables


def build(spec: DashboardSpec) -> dict[str, Any]:
    builder = (
        dashboard.Dashboard(spec.title)
        .uid(spec.uid)
        .description(spec.description)
        .tags(list(spec.tags))
        .time("now-30m", "now")
        .refresh("30s")
        .timezone("browser")
        .readonly()
        .tooltip(model.DashboardCursorSync.CROSSHAIR)
        .link(
            dashboard.DashboardLink("otelperf dashboards")
            .type(model.DashboardLinkType.DASHBOARDS)
            .tags(["otelperf"])
            .as_dropdown(True)
            .include_vars(True)
            .keep_time(True)
        )
    )
    for variable in _variables(spec):
        builder = builder.with_variable(variable)
    for panel in spec.panels:
        builder = builder.with_panel(_panel(panel))
    encoded: dict[str, Any] = json.loads(JSONEncoder(sort_keys=True, indent=2).encode(builder.build()))
    return encoded


def render_all() -> dict[str, str]:
    """File name -> JSON text of every dashboard."""
    return {f"{spec.uid}.json": json.dumps(build(spec), indent=2, sort_keys=True) + "\n" for spec in DASHBOARDS}


def write_all(out_dir: Path) -> list[Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for name, text in render_all().items():
        path = out_dir / name
        path.write_text(text)
        written.append(path)
    return written
