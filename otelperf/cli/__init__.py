"""The ``otelperf`` command: the tooling around the runtime plugin, never loaded into the host app.

``doctor`` and ``settings`` read the configuration, ``demo`` and ``load`` run and load the sample
service, ``report`` and ``rules`` grade a service from its metrics, ``dashboards`` writes the Grafana
JSON. Each typer command in ``_app`` is a thin shell over a plain function (``doctor``, ``demo``,
``report``) that tests call directly. The CLI lives in the ``cli`` extra (typer, rich, httpx) so the
runtime plugin stays light; without it, ``otelperf`` says what to install instead of failing with a
traceback.
"""

from __future__ import annotations

import sys


def main() -> None:
    """Console-script entry point."""
    try:
        from otelperf.cli._app import app
    except ImportError as exc:
        print(
            f"otelperf: the command line needs extra packages ({exc.name} is missing); "
            "install them with: pip install 'otelperf[cli]'",
            file=sys.stderr,
        )
        raise SystemExit(1) from None
    app()
