"""The command line from a plain install: every command but the demo runs without the extras."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

# The demo's, dashboards' and tests' extras, as a plain `pip install otelperf` lacks them.
_EXTRAS = ("fastapi", "starlette", "uvicorn", "sqlalchemy", "redis", "psycopg", "grafana_foundation_sdk")


_BLOCK = f"""
import importlib.abc, sys
class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in {_EXTRAS!r}:
            raise ModuleNotFoundError(f"No module named {{name!r}}", name=name)
sys.meta_path.insert(0, Block())
"""


def _plain(code: str, *args: str) -> subprocess.CompletedProcess[str]:
    """``code`` in a fresh interpreter where only the base install's packages can be imported."""
    env = {key: value for key, value in os.environ.items() if not key.startswith(("OTEL_", "OTELPERF_"))}
    env.update(OTEL_TRACES_EXPORTER="none", OTEL_METRICS_EXPORTER="none", COLUMNS="200")
    return subprocess.run(
        [sys.executable, "-c", _BLOCK + code, *args], capture_output=True, text=True, env=env, timeout=120, check=False
    )


def test_every_command_but_the_demo_runs_from_a_plain_install(tmp_path: Path) -> None:
    main = "import sys; from otelperf.cli import main; sys.argv = ['otelperf', *sys.argv[1:]]; main()"
    doctor = _plain(main, "doctor")
    assert doctor.returncode == 0, doctor.stderr
    assert "no backend configured to check" in doctor.stdout
    export = _plain(main, "rules", "export", "--out", str(tmp_path))
    assert export.returncode == 0, export.stderr
    assert sorted(path.name for path in tmp_path.iterdir()) == ["otelperf-alerts.yml", "otelperf-recording.yml"]
    unreachable = _plain(main, "report", "--prometheus", "http://127.0.0.1:9")
    assert unreachable.returncode == 2 and "does not answer" in unreachable.stderr, unreachable.stderr
    for help_of in (("report",), ("demo",), ("rules", "check")):
        shown = _plain(main, *help_of, "--help")
        assert shown.returncode == 0, shown.stderr
    demo = _plain(main, "demo", "--duration", "1")
    assert demo.returncode == 1
    assert "pip install 'otelperf[demo]'" in demo.stderr and "Traceback" not in demo.stderr
