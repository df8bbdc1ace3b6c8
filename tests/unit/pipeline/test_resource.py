"""The service name derived from the command line when none is configured."""

from __future__ import annotations

import pytest

from otelperf.pipeline.resource import derive_service_name

PY = "/venv/bin/python"


@pytest.mark.parametrize(
    ("argv", "name"),
    [
        ([PY, "/venv/bin/uvicorn", "shop.app:app", "--port", "80"], "shop-app"),
        (
            [PY, "/venv/bin/gunicorn", "-k", "uvicorn.workers.UvicornWorker", "my_service.main:create_app()"],
            "my-service-main",
        ),
        ([PY, "jobs/nightly_report.py"], "nightly-report"),
        ([PY, "-m", "celery", "worker"], "celery"),
        ([PY, "-c", "print(1)"], "python-app"),
    ],
)
def test_derive_service_name(argv: list[str], name: str) -> None:
    assert derive_service_name(argv) == name
