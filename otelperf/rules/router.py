"""An opt-in FastAPI router serving the in-process report: ``GET /performance/report``.

    from otelperf.rules.router import performance_router
    app.include_router(performance_router())

``?format=markdown`` answers Markdown, ``?format=html`` the self-contained HTML page (gauge,
categories, recommendations with their evidence and charts, each route's top functions);
``?window=600`` reports on the last 600 s, ``?since=T1&until=T2`` (unix seconds) on that stretch;
``?charts=true`` adds each recommendation's value over
the window to the JSON (the HTML always has them). The endpoint runs in Starlette's thread pool (a
sync handler), so evaluating the rules never blocks the event loop. It never raises: a missing
prerequisite is a 503 that says what to set.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import APIRouter
from fastapi.responses import HTMLResponse, JSONResponse, PlainTextResponse, Response

from otelperf.rules import local_report
from otelperf.rules.model import RuleError
from otelperf.rules.render import to_markdown

__all__ = ["performance_router"]

logger = logging.getLogger("otelperf")


def performance_router(prefix: str = "/performance", **router_options: Any) -> APIRouter:
    router = APIRouter(prefix=prefix, tags=["otelperf"], **router_options)

    @router.get("/report", summary="otelperf performance report (score, grade, recommendations)")
    def performance_report(
        format: str = "json",
        window: float | None = None,
        since: float | None = None,
        until: float | None = None,
        charts: bool = False,
    ) -> Response:
        if format not in ("json", "markdown", "html"):
            return JSONResponse({"error": f"format {format!r}: use json, markdown or html"}, status_code=400)
        try:
            report = local_report(window_s=window, since=since, until=until, charts=charts or format == "html")
        except RuntimeError as exc:
            return JSONResponse({"error": str(exc)}, status_code=503)
        except RuleError as exc:
            return JSONResponse({"error": f"invalid rule file: {exc}"}, status_code=500)
        except Exception:
            logger.warning("otelperf: the performance report failed", exc_info=True)
            return JSONResponse({"error": "the report failed; see the otelperf log"}, status_code=500)
        if format == "markdown":
            return PlainTextResponse(to_markdown(report), media_type="text/markdown")
        if format == "html":
            from otelperf.rules.html import to_html

            return HTMLResponse(to_html(report))
        return JSONResponse(report.to_dict())

    return router
