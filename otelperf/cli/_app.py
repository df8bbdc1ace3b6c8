"""Typer application: thin commands over plain functions that tests call directly."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Annotated

import typer

from otelperf import semconv
from otelperf.cli import doctor as doctor_command
from otelperf.cli import report as report_command
from otelperf.demo.scenario import DEFAULT_CONCURRENCY, DEFAULT_RATE
from otelperf.settings import settings_table

app = typer.Typer(
    name="otelperf",
    help="OpenTelemetry performance distro for Python services.",
    no_args_is_help=True,
    add_completion=False,
)


@app.command()
def doctor(
    timeout: Annotated[float, typer.Option(help="Seconds to wait for each backend.")] = 2.0,
) -> None:
    """Print the effective configuration (secrets masked) and check that backends answer.

    Exit code 1: an invalid setting; 2: a configured backend does not answer.
    """
    raise typer.Exit(doctor_command.run_doctor(timeout_s=timeout))


@app.command()
def settings(
    markdown: Annotated[bool, typer.Option("--markdown", help="Print the table of docs/configuration.md.")] = False,
) -> None:
    """List every setting otelperf reads, with its default and meaning."""
    if markdown:
        print(settings_table())
        return
    doctor_command.print_settings()


@app.command()
def metrics(
    markdown: Annotated[bool, typer.Option("--markdown", help="Print the metrics table of docs/signals.md.")] = False,
) -> None:
    """List every metric otelperf records, with its kind, unit and Prometheus name."""
    if markdown:
        print(semconv.metrics_table())
        return
    rows = [("metric", "kind", "unit", "Prometheus name")]
    rows += [(i.name, i.kind, i.unit, i.prometheus_name) for i in semconv.INSTRUMENTS.values()]
    widths = [max(len(row[column]) for row in rows) for column in range(3)]
    for row in rows:
        print("  ".join([*(cell.ljust(width) for cell, width in zip(row[:3], widths, strict=True)), row[3]]))


dashboards_app = typer.Typer(help="Grafana dashboards as code.", no_args_is_help=True)
app.add_typer(dashboards_app, name="dashboards")


@dashboards_app.command("generate")
def generate_dashboards(
    out: Annotated[Path, typer.Option(help="Folder for the dashboard JSON files.")] = Path("grafana/dashboards"),
) -> None:
    """Write every dashboard's JSON (needs the `dashboards` extra: grafana-foundation-sdk)."""
    try:
        from otelperf.dashboards.build import write_all
    except ImportError as exc:
        typer.secho(
            f"otelperf: {exc.name} is missing; install it with: pip install 'otelperf[dashboards]'", err=True, fg="red"
        )
        raise typer.Exit(1) from None
    for path in write_all(out):
        typer.echo(str(path))


@app.command()
def report(  # noqa: PLR0917 - typer options
    prometheus: Annotated[
        str, typer.Option(help="Prometheus base URL.", envvar="OTELPERF_PROMETHEUS_URL")
    ] = "http://127.0.0.1:9090",
    service: Annotated[
        str | None, typer.Option(help="service.name (the job label); default: the only service in Prometheus.")
    ] = None,
    window: Annotated[str, typer.Option(help="PromQL range to evaluate over (5m, 15m, 1h).")] = "15m",
    output_format: Annotated[
        str, typer.Option("--format", help="table, json, markdown or html (one self-contained page, with charts).")
    ] = "table",
    fail_under: Annotated[
        float | None, typer.Option(help="Exit 1 when the overall score is under this (a CI gate after a load test).")
    ] = None,
    rules: Annotated[
        str | None, typer.Option(help="Rule file applied over the built-in catalog.", envvar="OTELPERF_RULES_FILE")
    ] = None,
    pyroscope: Annotated[
        str | None,
        typer.Option(help="Pyroscope URL: slow routes name their top functions.", envvar="OTELPERF_PYROSCOPE_ENDPOINT"),
    ] = None,
    grafana: Annotated[str, typer.Option(help="Grafana base URL for dashboard, trace and profile links.")] = "",
    baseline: Annotated[
        str | None,
        typer.Option(help="A previous report (--format json) to compare with: each rule that got worse is marked."),
    ] = None,
    tolerance: Annotated[
        float, typer.Option(help="Points a rule's score may drop from the baseline before it counts as a regression.")
    ] = 5.0,
    fail_on_regression: Annotated[
        bool, typer.Option("--fail-on-regression", help="Exit 1 when a rule regressed against --baseline.")
    ] = False,
    until: Annotated[
        float | None,
        typer.Option(help="End the window then (unix seconds: a load test's end) rather than now."),
    ] = None,
) -> None:
    """Score the service from Prometheus: a grade, category scores and ranked recommendations.

    Exit code 1: a gate failed (the score is under --fail-under, or a rule regressed against
    --baseline with --fail-on-regression); 2: Prometheus, the rule file or the baseline is unusable.
    """
    if output_format not in ("table", "json", "markdown", "html"):
        typer.secho(
            f"otelperf report: --format {output_format!r}: use table, json, markdown or html", err=True, fg="red"
        )
        raise typer.Exit(2)
    if fail_on_regression and not baseline:
        typer.secho("otelperf report: --fail-on-regression needs --baseline", err=True, fg="red")
        raise typer.Exit(2)
    raise typer.Exit(
        report_command.run_report(
            prometheus=prometheus,
            service=service,
            window=window,
            output_format=output_format,
            fail_under=fail_under,
            rules_file=rules,
            pyroscope=pyroscope,
            grafana=grafana,
            baseline=baseline,
            tolerance=tolerance,
            fail_on_regression=fail_on_regression,
            until=until,
        )
    )


rules_app = typer.Typer(help="The performance rules: list, check, export to Prometheus.", no_args_is_help=True)
app.add_typer(rules_app, name="rules")


@rules_app.command("check")
def check_rules(
    rules: Annotated[str | None, typer.Argument(help="Rule file applied over the built-in catalog.")] = None,
    markdown: Annotated[bool, typer.Option("--markdown", help="Print the catalog table of docs/rules.md.")] = False,
) -> None:
    """Validate a rule file (every error, with file, rule and field) and list the effective rules."""
    raise typer.Exit(report_command.run_check(rules, markdown=markdown))


@rules_app.command("export")
def export_rules(
    out: Annotated[Path, typer.Option(help="Folder for the rule files.")] = Path("prometheus/rules"),
    rules: Annotated[
        str | None, typer.Option(help="Rule file applied over the built-in catalog.", envvar="OTELPERF_RULES_FILE")
    ] = None,
    availability_slo: Annotated[float, typer.Option(help="Availability SLO (share of non-5xx).")] = 0.999,
    latency_slo: Annotated[float, typer.Option(help="Latency SLO (share within the threshold).")] = 0.99,
    latency_threshold: Annotated[
        float, typer.Option(help="Latency SLO threshold in seconds (a bucket bound of the HTTP histogram).")
    ] = 0.25,
) -> None:
    """Write Prometheus recording rules (scores) and alerting rules (original alerts, SLO burn rates)."""
    from otelperf.rules.export import SloTargets

    buckets = semconv.HTTP_DURATION_BUCKETS_S
    if latency_threshold not in buckets or not (0 < availability_slo < 1 and 0 < latency_slo < 1):
        typer.secho(
            "otelperf rules export: SLOs must be between 0 and 1 and --latency-threshold one of "
            + ", ".join(f"{b:g}" for b in buckets),
            err=True,
            fg="red",
        )
        raise typer.Exit(2)
    slo = SloTargets(availability=availability_slo, latency=latency_slo, latency_threshold_s=latency_threshold)
    raise typer.Exit(report_command.run_export(out, rules, slo))


@app.command()
def load(
    url: Annotated[str, typer.Argument(help="Base URL of the demo service.")],
    duration: Annotated[float, typer.Option(help="Seconds of load; 0 runs until stopped.")] = 60.0,
    concurrency: Annotated[int, typer.Option(help="Concurrent simulated clients.")] = 4,
) -> None:
    """Load a running demo service with realistic traffic (what docker compose's loadgen runs)."""
    from otelperf.cli import demo as demo_command

    raise typer.Exit(demo_command.run_load(url, duration_s=duration, concurrency=concurrency))


def _installed(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except ImportError:
        return False


def _problems_help() -> str:
    from otelperf.demo.scenario import PROBLEMS

    listed = "; ".join(f"{name}: {route} {what}" for name, (route, what, _) in PROBLEMS.items())
    return f"Problems to plant, comma-separated (all, the default; or none). {listed}."


@app.command()
def demo(  # noqa: PLR0917 - typer options
    problems: Annotated[str, typer.Option(help=_problems_help())] = "all",
    healthy: Annotated[bool, typer.Option("--healthy", help="Plant no problem (--problems none).")] = False,
    duration: Annotated[float, typer.Option(help="Seconds of load to generate.")] = 20.0,
    rate: Annotated[float, typer.Option(help="Requests per second, sent whatever the service does.")] = DEFAULT_RATE,
    concurrency: Annotated[int, typer.Option(help="Most requests in flight at once.")] = DEFAULT_CONCURRENCY,
    port: Annotated[int, typer.Option(help="Port of the demo service (0: any free port).")] = 0,
    out: Annotated[
        Path | None,
        typer.Option(
            help="The HTML report to write (a .json beside it); default: otelperf-demo-report.html in the temp folder."
        ),
    ] = None,
) -> None:
    """Run the sample shop under otelperf with problems planted, load it, and report what was found.

    The shop has five problems built in, all planted unless --problems or --healthy says otherwise.
    At the end: what the clients saw, what otelperf measured, the performance report (score, grade,
    ranked recommendations with their evidence) and the path of the same report as an HTML page.
    Profiles: to Pyroscope when OTELPERF_PYROSCOPE_ENDPOINT is set, else to a receiver in this
    process, so the report names each route's top functions either way.
    """
    from otelperf.demo.scenario import parse_problems

    missing = [name for name in ("fastapi", "uvicorn", "sqlalchemy") if not _installed(name)]
    if missing:
        typer.secho(
            f"otelperf demo: the sample service needs {', '.join(missing)}; "
            "install it with: pip install 'otelperf[demo]'",
            err=True,
            fg="red",
        )
        raise typer.Exit(1)
    from otelperf.cli import demo as demo_command

    try:
        planted = frozenset() if healthy else parse_problems(problems.split(","))
    except ValueError as exc:
        typer.secho(f"otelperf demo: --problems: {exc}", err=True, fg="red")
        raise typer.Exit(2) from None
    if healthy and problems != "all":
        typer.secho("otelperf demo: --healthy plants no problem; drop --problems", err=True, fg="red")
        raise typer.Exit(2)
    raise typer.Exit(
        demo_command.run_demo(
            duration_s=duration, rate_per_s=rate, concurrency=concurrency, port=port, problems=planted, out=out
        )
    )
