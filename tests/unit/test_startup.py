"""The startup line and what otelperf says about the instrumentors ``opentelemetry-instrument``'s
loader skips for a version conflict: the loader's own line is dropped, otelperf records the skip for
the startup line and explains it in one warning, in words that depend on whether otelperf replaces
the instrumentor. The startup line names the fast paths that are on, and why one is off."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from importlib.metadata import version

import pytest
from opentelemetry.instrumentation.dependencies import get_dependency_conflicts

from otelperf import fastpaths, startup
from otelperf.fastpaths import span_rewrite
from otelperf.fastpaths.contract import FastPath
from otelperf.pipeline.providers import Pipeline
from otelperf.process.roles import ProcessRole, RoleDecision
from otelperf.settings import Settings
from otelperf.version import __version__

INSTALLED = f"pytest {version('pytest')}"


@pytest.fixture
def loader() -> Iterator[logging.Logger]:
    """The loader's logger, with the filters it had before the test put back afterwards."""
    log = logging.getLogger("opentelemetry.instrumentation.auto_instrumentation._load")
    saved = list(log.filters)
    yield log
    log.filters[:] = saved


def _warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "otelperf" and r.levelno == logging.WARNING]


def test_a_replaced_instrumentor_skipped_for_its_version_says_what_is_missing(
    serving: startup.StartupState, caplog: pytest.LogCaptureFixture
) -> None:
    conflict = get_dependency_conflicts(['pytest<1; extra == "instruments"'])
    with caplog.at_level(logging.INFO, logger="otelperf"):
        startup._record_conflict("sqlalchemy", conflict)
    assert serving.instrumentations == {"sqlalchemy": f"skipped: needs pytest<1, found {INSTALLED}"}
    assert _warnings(caplog) == [
        f"contrib's sqlalchemy instrumentation is skipped: it supports pytest<1 and {INSTALLED} is installed, so "
        "the database spans and metrics are missing (otelperf_sqlalchemy, which replaces it, is disabled by "
        "OTEL_PYTHON_DISABLED_INSTRUMENTATIONS)"
    ]


def test_any_other_instrumentor_skipped_for_its_version_is_explained_too(
    serving: startup.StartupState, caplog: pytest.LogCaptureFixture
) -> None:
    conflict = get_dependency_conflicts([], ["nothing-of-that-name-otelperf>=1", "pytest<1"])
    with caplog.at_level(logging.INFO, logger="otelperf"):
        startup._record_conflict("celery", conflict)
    supported = "nothing-of-that-name-otelperf>=1 or pytest<1"
    assert serving.instrumentations == {"celery": f"skipped: needs {supported}, found {INSTALLED}"}
    assert _warnings(caplog) == [
        f"instrumentation celery skipped by opentelemetry-instrument: it needs {supported}, found {INSTALLED}; "
        "its spans and metrics are missing (install a matching version)"
    ]


@pytest.mark.parametrize(
    "requirements", [["pytest >= 1"], ["nothing-of-that-name-otelperf < 1"]], ids=["supported", "not-installed"]
)
def test_nothing_is_said_without_a_conflict_over_an_installed_library(
    serving: startup.StartupState, caplog: pytest.LogCaptureFixture, requirements: list[str]
) -> None:
    with caplog.at_level(logging.INFO, logger="otelperf"):
        startup._record_conflict("sqlalchemy", get_dependency_conflicts(requirements))
    assert serving.instrumentations == {}
    assert _warnings(caplog) == []


def test_the_loaders_own_conflict_line_is_dropped_and_nothing_else(
    loader: logging.Logger, caplog: pytest.LogCaptureFixture
) -> None:
    version_conflict = get_dependency_conflicts(["pytest < 1"])
    not_installed = get_dependency_conflicts(["nothing-of-that-name-otelperf < 1"])
    assert version_conflict is not None and not_installed is not None
    startup.quiet_loader_conflicts()
    startup.quiet_loader_conflicts()
    assert sum(isinstance(f, startup._LoaderConflicts) for f in loader.filters) == 1
    with caplog.at_level(logging.DEBUG, logger=loader.name):
        version_conflict._log(loader, "sqlalchemy")  # what the loader does before skipping an instrumentor
        not_installed._log(loader, "celery")
        loader.error("Instrumenting of %s failed", "redis")
    assert [(r.levelno, r.getMessage().split(" ", 1)[0]) for r in caplog.records if r.name == loader.name] == [
        (logging.DEBUG, "celery"),
        (logging.ERROR, "Instrumenting"),
    ]


class _Lines(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


def _startup_lines(settings: Settings) -> list[str]:
    saved = startup.STATE
    startup.STATE = startup.StartupState(
        settings=settings,
        role=RoleDecision(ProcessRole.SERVER, "uvicorn", "uvicorn server"),
        instrumented=True,
        pipeline=Pipeline(settings),
    )
    otelperf_logger, handler = logging.getLogger("otelperf"), _Lines()
    otelperf_logger.addHandler(handler)
    level = otelperf_logger.level
    otelperf_logger.setLevel(logging.INFO)
    try:
        startup._report()
    finally:
        otelperf_logger.removeHandler(handler)
        otelperf_logger.setLevel(level)
        startup.STATE = saved
    return handler.lines


def test_the_startup_line_says_which_fast_paths_are_on_and_why_one_is_off() -> None:
    settings = Settings(traces_exporter="none", metrics_exporter="none")
    with pytest.MonkeyPatch.context() as patch:
        for switch in fastpaths.FAST_PATHS:
            state = FastPath(switch.name, True, "set by the test") if switch.name != "grpc_export" else None
            patch.setattr(switch, "_state", state)  # grpc_export undecided: this process does not use it
        patch.setattr(fastpaths.sampling.SWITCH, "_state", FastPath("sampling", False, "ParentBased changed"))
        [line] = _startup_lines(settings)
    assert line.endswith("; off: sampling (ParentBased changed)"), line
    assert "fast paths on: histograms," in line and "grpc_export" not in line  # not used: no OTLP gRPC


def test_the_startup_line_warns_of_a_broken_contract() -> None:
    broken = FastPath("span_rewrite", False, "ReadableSpan changed: ended spans are exported as recorded")
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(span_rewrite.SWITCH, "_state", broken)
        lines = _startup_lines(Settings(traces_exporter="none", metrics_exporter="none"))
    assert lines[1] == f"SDK contract span_rewrite is broken with this opentelemetry-sdk: {broken.reason}"


@pytest.fixture
def said() -> Iterator[list[str]]:
    """What otelperf logs at INFO and above while the test runs."""
    otelperf_logger, handler = logging.getLogger("otelperf"), _Lines()
    level = otelperf_logger.level
    otelperf_logger.addHandler(handler)
    otelperf_logger.setLevel(logging.INFO)
    yield handler.lines
    otelperf_logger.removeHandler(handler)
    otelperf_logger.setLevel(level)


def test_the_startup_line_waits_for_the_instrumentors_and_is_said_once_per_pipeline(
    serving: startup.StartupState, said: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(startup, "_record_skipped_by_the_loader", lambda: None)
    settings = Settings(traces_exporter="none", metrics_exporter="none")
    role = RoleDecision(ProcessRole.SERVER, "uvicorn", "uvicorn server")
    startup.pipeline_started(Pipeline(settings), role)
    assert said == []  # the instrumentors are not loaded yet: the line would miss them
    startup.log_startup_summary()
    startup.log_startup_summary()
    assert len(said) == 1 and said[0].startswith(f"otelperf {__version__} on in pid {os.getpid()} (uvicorn server)")
    startup.pipeline_started(Pipeline(settings), role)  # a forked worker's own pipeline: its own line
    assert len(said) == 2 and serving.role is role


@pytest.mark.parametrize(
    ("reload", "said_of_workers"), [(False, "each worker starts its own pipeline"), (True, "use --reload only in")]
)
def test_a_supervisor_says_it_exports_nothing_and_what_its_workers_do(
    serving: startup.StartupState,
    said: list[str],
    monkeypatch: pytest.MonkeyPatch,
    reload: bool,
    said_of_workers: str,
) -> None:
    monkeypatch.setattr(startup, "_record_skipped_by_the_loader", lambda: None)
    serving.role = RoleDecision(ProcessRole.SUPERVISOR, "uvicorn", "uvicorn supervisor", reload=reload)
    startup.log_startup_summary()
    (line,) = said
    assert line.startswith(f"otelperf {__version__}: uvicorn supervisor (pid {os.getpid()}) exports nothing; ")
    assert said_of_workers in line
