"""The ``otelperf`` command: the tooling around the runtime plugin, never loaded into the host app.

``doctor`` and ``settings`` read the configuration, ``demo`` and ``load`` run and load the sample
service, ``report`` and ``rules`` grade a service from its metrics, ``dashboards`` writes the Grafana
JSON. Each typer command in ``_app`` is a thin shell over a plain function (``doctor``, ``demo``,
``report``) that tests call directly. Its libraries (typer, rich, httpx) are in the base install,
so an operator runs ``doctor``, ``report`` or ``rules export`` in the app's own image; the runtime
plugin never imports them. ``demo`` needs the ``demo`` extra (the sample service's libraries) and
says so. An install missing one of the base libraries gets one line saying what to reinstall
instead of a traceback.
"""

from __future__ import annotations

import sys


def main() -> None:
    """Console-script entry point."""
    try:
        from otelperf.cli._app import app
    except ImportError as exc:
        print(
            f"otelperf: the command line cannot start ({exc.name} is missing from this install); "
            "reinstall it with: pip install --force-reinstall otelperf",
            file=sys.stderr,
        )
        raise SystemExit(1) from None
    app()
