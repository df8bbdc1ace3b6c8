"""Typer application: thin commands over plain functions that tests call directly."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from otelperf.cli import demo as demo_command
from otelperf.cli import doctor as doctor_command
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
    markdown: Annotated[bool, typer.Option("--markdown", help="Print the README table.")] = False,
) -> None:
    """List every setting otelperf reads, with its default and meaning."""
    if markdown:
        print(settings_table())
        return
    doctor_command.print_settings()


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
def load(
    url: Annotated[str, typer.Argument(help="Base URL of the demo service.")],
    duration: Annotated[float, typer.Option(help="Seconds of load; 0 runs until stopped.")] = 60.0,
    concurrency: Annotated[int, typer.Option(help="Concurrent simulated clients.")] = 4,
) -> None:
    """Load a running demo service with realistic traffic (what docker compose's loadgen runs)."""
    raise typer.Exit(demo_command.run_load(url, duration_s=duration, concurrency=concurrency))


@app.command()
def demo(
    duration: Annotated[float, typer.Option(help="Seconds of load to generate.")] = 20.0,
    concurrency: Annotated[int, typer.Option(help="Concurrent simulated clients.")] = 8,
    port: Annotated[int, typer.Option(help="Port of the demo service (0: any free port).")] = 0,
) -> None:
    """Run the sample shop service under otelperf, load it, and summarise what was observed."""
    raise typer.Exit(demo_command.run_demo(duration_s=duration, concurrency=concurrency, port=port))
