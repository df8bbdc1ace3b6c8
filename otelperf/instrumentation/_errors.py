"""An error on a client span, the way ``record_exception`` would put it, with its text scrubbed.

Driver messages embed statements and bound values (``[parameters: ('alice@example.com',)]``);
``scrub_message`` removes them from the event and the status. The traceback is formatted once
(``record_exception`` formats it even when the attributes are then replaced).
"""

from __future__ import annotations

import traceback

from opentelemetry.trace import Span, Status, StatusCode

from otelperf import semconv
from otelperf.redaction.sql import scrub_message


def record_error(span: Span, error: BaseException, error_type: str) -> None:
    """``error.type``, an ``exception`` event and an ``ERROR`` status, all free of values."""
    span.set_attribute(semconv.ERROR_TYPE, error_type)
    span.add_event(
        "exception",
        {
            "exception.type": semconv.exception_type(error),
            "exception.message": scrub_message(str(error)),
            "exception.stacktrace": scrub_message("".join(traceback.format_exception(error))),
            "exception.escaped": "False",
        },
    )
    span.set_status(Status(StatusCode.ERROR, scrub_message(f"{error_type}: {error}")[:512]))
