"""What otelperf says about the instrumentors ``opentelemetry-instrument``'s loader skips for a
version conflict: the loader's own line is dropped, otelperf records the skip for the startup line
and explains it in one warning, in words that depend on whether otelperf replaces the instrumentor."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from importlib.metadata import version

import pytest
from opentelemetry.instrumentation.dependencies import get_dependency_conflicts

from otelperf import startup

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
