"""``python -m served MODE PORT``: the service's own entry point, starting its server in code.

- ``uvicorn-workers``: ``uvicorn.run(app, workers=2)`` (uvicorn's ``Multiprocess`` supervisor
  spawns the workers);
- ``gunicorn-preload``: gunicorn embedded through ``BaseApplication`` with ``preload_app = True``
  and 2 workers (the master imports the app, then forks);
- ``gunicorn``: the same without preload (each forked worker imports the app).
"""

from __future__ import annotations

import sys
from typing import Any


def _gunicorn(port: int, preload: bool) -> None:
    from gunicorn.app.base import BaseApplication

    class EmbeddedGunicorn(BaseApplication):  # type: ignore[misc]
        def load_config(self) -> None:
            settings = {
                "bind": f"127.0.0.1:{port}",
                "workers": 2,
                "worker_class": "uvicorn.workers.UvicornWorker",
                "preload_app": preload,
                "graceful_timeout": 10,
            }
            for key, value in settings.items():
                self.cfg.set(key, value)

        def load(self) -> Any:
            from served.app import app

            return app

    EmbeddedGunicorn().run()


def main(argv: list[str]) -> None:
    mode, port = argv[0], int(argv[1])
    if mode == "uvicorn-workers":
        import uvicorn

        uvicorn.run("served.app:app", host="127.0.0.1", port=port, workers=2, log_level="warning")
    elif mode in ("gunicorn", "gunicorn-preload"):
        _gunicorn(port, preload=mode == "gunicorn-preload")
    else:
        raise SystemExit(f"unknown mode {mode!r}")


if __name__ == "__main__":
    main(sys.argv[1:])
