from __future__ import annotations

import pytest

from otelperf.process.roles import ProcessRole, detect_role

PY = "/venv/bin/python"


@pytest.mark.parametrize(
    ("argv", "env", "role"),
    [
        ([PY, "/venv/bin/uvicorn", "app:app"], {}, ProcessRole.SERVER),
        ([PY, "/venv/bin/uvicorn", "app:app", "--workers", "2"], {}, ProcessRole.SUPERVISOR),
        ([PY, "/venv/bin/uvicorn", "app:app", "--workers=1"], {}, ProcessRole.SERVER),
        ([PY, "/venv/bin/uvicorn", "app:app"], {"WEB_CONCURRENCY": "4"}, ProcessRole.SUPERVISOR),
        ([PY, "/venv/bin/uvicorn", "app:app", "--reload"], {}, ProcessRole.SUPERVISOR),
        ([PY, "-m", "uvicorn", "app:app", "--workers", "3"], {}, ProcessRole.SUPERVISOR),
        ([PY, "/venv/bin/gunicorn", "-w", "2", "app:app"], {}, ProcessRole.SUPERVISOR),
        ([PY, "/venv/bin/fastapi", "dev", "main.py"], {}, ProcessRole.SUPERVISOR),
        (
            [
                PY,
                "-c",
                "from multiprocessing.spawn import spawn_main; spawn_main(tracker_fd=5)",
                "--multiprocessing-fork",
            ],
            {},
            ProcessRole.SERVER,
        ),
        ([PY, "-c", "from multiprocessing.resource_tracker import main;main(5)"], {}, ProcessRole.HELPER),
        ([PY, "-B", "worker.py"], {}, ProcessRole.SERVER),
    ],
)
def test_detect_role(argv: list[str], env: dict[str, str], role: ProcessRole) -> None:
    assert detect_role(argv, env).role is role


def test_reload_is_flagged() -> None:
    assert detect_role([PY, "/venv/bin/uvicorn", "a:b", "--reload"], {}).reload
