"""The rules package as a whole: building a report in process imports no HTTP client."""

from __future__ import annotations

import subprocess
import sys


def test_the_rules_package_imports_no_http_client() -> None:
    code = """
import sys, time
import otelperf.rules, otelperf.rules.router, otelperf.rules.html
from otelperf.rules import build_report, load_rules
from otelperf.rules.local import LocalSource
from otelperf.rules.html import to_html
to_html(build_report(load_rules(), LocalSource([]), service="shop"))
print("httpx" in sys.modules)
"""
    # The router needs FastAPI: this one check runs with it.
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False"
