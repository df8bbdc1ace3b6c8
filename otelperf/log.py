"""otelperf's own logger: one handler on stderr, prefixed, independent of the app's logging.

The logger does not propagate, so an application that configures the root logger later neither
loses these lines nor prints them twice.
"""

from __future__ import annotations

import logging
import sys

logger = logging.getLogger("otelperf")

_LEVELS = {"debug": logging.DEBUG, "info": logging.INFO, "warning": logging.WARNING, "error": logging.ERROR}


def setup_logging(level: str = "info") -> None:
    """Attach the stderr handler once and set the level (idempotent)."""
    if not any(getattr(handler, "_otelperf", False) for handler in logger.handlers):
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("otelperf: %(levelname)s %(message)s"))
        handler._otelperf = True  # type: ignore[attr-defined]
        logger.addHandler(handler)
    logger.setLevel(_LEVELS.get(level, logging.INFO))
    logger.propagate = False
