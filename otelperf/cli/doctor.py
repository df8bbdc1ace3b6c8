"""``otelperf doctor``: the effective configuration, the fast paths, and whether each backend answers."""

from __future__ import annotations

from urllib.parse import urlsplit

from rich.console import Console
from rich.table import Table

from otelperf import fastpaths
from otelperf.export.reachability import Check, tcp_check
from otelperf.settings import SETTINGS, Settings, load_settings

_err = Console(stderr=True)


def _redis_check(url: str, timeout_s: float) -> Check:
    target = _without_password(url)
    try:
        import redis

        redis.Redis.from_url(url, socket_connect_timeout=timeout_s, socket_timeout=timeout_s).ping()
        return Check("redis", target, True, "PING answered")
    except ImportError:
        return tcp_check("redis", url, timeout_s)
    except Exception as exc:  # noqa: BLE001 - report, do not crash
        return Check("redis", target, False, f"{type(exc).__name__}: {exc}")


def _database_check(url: str, timeout_s: float) -> Check:
    target = _without_password(url)
    try:
        from sqlalchemy import create_engine, text
    except ImportError:
        return tcp_check("database", url, timeout_s)
    try:
        args = {"connect_timeout": int(max(timeout_s, 1))} if url.startswith("postgres") else {}
        engine = create_engine(url, connect_args=args)
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
        engine.dispose()
        return Check("database", target, True, "SELECT 1 answered")
    except Exception as exc:  # noqa: BLE001
        return Check("database", target, False, f"{type(exc).__name__}: {str(exc).splitlines()[0]}")


def _without_password(url: str) -> str:
    parts = urlsplit(url)
    return url.replace(f":{parts.password}@", ":***@") if parts.password else url


def run_checks(settings: Settings, timeout_s: float) -> list[Check]:
    checks: list[Check] = []
    for signal, exporter in (("traces", settings.traces_exporter), ("metrics", settings.metrics_exporter)):
        if exporter == "otlp":
            checks.append(tcp_check(f"otlp {signal}", settings.endpoint_for(signal), timeout_s))
    if settings.profiling_active and settings.pyroscope_endpoint:
        checks.append(tcp_check("pyroscope", settings.pyroscope_endpoint, timeout_s))
    if settings.redis_url:
        checks.append(_redis_check(settings.redis_url, timeout_s))
    if settings.database_url:
        checks.append(_database_check(settings.database_url, timeout_s))
    return checks


def print_settings(settings: Settings | None = None) -> None:
    settings = settings or load_settings()
    table = Table(title="otelperf settings (secrets masked)")
    for column in ("variable", "effective value", "meaning"):
        table.add_column(column)
    values = settings.redacted()
    for spec in SETTINGS:
        value = values[spec.env]
        table.add_row(spec.env, "unset" if value is None else str(value), spec.help)
    Console().print(table)


def print_fast_paths(settings: Settings, out: Console) -> None:
    """Each fast path's state with these settings against the installed SDK, and any SDK contract
    the installed SDK does not keep."""
    grpc = settings.traces_exporter == "otlp" and settings.otlp_protocol == "grpc"
    skip = frozenset() if grpc else frozenset({"grpc_export"})
    for state in fastpaths.states(skip, forced_off=not settings.fast_paths):
        mark = "[green]on[/green]" if state.on else "[yellow]off[/yellow]"
        out.print(f"{mark} fast path {state.name}: {state.reason}")
    for contract in fastpaths.contracts():
        if not contract.on:
            out.print(f"[red]broken[/red] SDK contract {contract.name}: {contract.reason}")


def run_doctor(timeout_s: float = 2.0, settings: Settings | None = None) -> int:
    """Print the configuration and checks; 0 all good, 1 invalid settings, 2 a backend is down."""
    settings = settings or load_settings()
    print_settings(settings)
    out = Console()
    for problem in settings.problems:
        _err.print(f"[red]invalid setting:[/red] {problem}")
    print_fast_paths(settings, out)
    checks = run_checks(settings, timeout_s)
    for check in checks:
        mark = "[green]ok[/green]" if check.ok else "[red]FAIL[/red]"
        out.print(f"{mark} {check.name} at {check.target}: {check.detail}")
    if not checks:
        out.print("no backend configured to check")
    if settings.problems:
        _err.print(f"[red]{len(settings.problems)} invalid setting(s); otelperf would use the fallbacks above[/red]")
        return 1
    if any(not check.ok for check in checks):
        _err.print(
            "[yellow]a configured backend does not answer; the app still runs, that telemetry is dropped[/yellow]"
        )
        return 2
    return 0
