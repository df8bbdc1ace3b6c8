"""Turns cache commands into ``otelperf.cache.operation.duration`` measurements."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from opentelemetry import metrics
from opentelemetry.context import Context
from opentelemetry.metrics import MeterProvider

from otelperf import semconv
from otelperf.instrumentation.cache.results import HIT, MISS, command_name, read_outcomes
from otelperf.log import logger
from otelperf.metrics.instruments import BoundedHistogram, SelfCost
from otelperf.version import __version__

_MAX_MEMO = 4096


class CacheRecorder:
    """One per cache system; attribute dicts are memoised (they repeat endlessly)."""

    def __init__(self, system: str, meter_provider: MeterProvider | None = None) -> None:
        meter = metrics.get_meter("otelperf.instrumentation.cache", __version__, meter_provider=meter_provider)
        self._system = system
        self._duration = BoundedHistogram(meter, semconv.INSTRUMENTS[semconv.CACHE_OPERATION_DURATION])
        self._memo: dict[tuple[str, str, str | None, str | None], dict[str, str]] = {}
        self._cost = SelfCost(f"cache.{system}")

    def _attributes(self, name: str, operation: str, result: str | None, error: str | None) -> dict[str, str]:
        key = (name, operation, result, error)
        attributes = self._memo.get(key)
        if attributes is None:
            attributes = {
                semconv.CACHE_SYSTEM: self._system,
                semconv.CACHE_NAME: name,
                semconv.CACHE_OPERATION: operation,
            }
            if result is not None:
                attributes[semconv.CACHE_RESULT] = result
            if error is not None:
                attributes[semconv.ERROR_TYPE] = error
            if len(self._memo) < _MAX_MEMO:
                self._memo[key] = attributes
        return attributes

    def record(  # noqa: PLR0917 - name, operation, duration, then counts: read as one measurement
        self,
        name: str,
        operation: str,
        duration_s: float,
        hits: int = 0,
        misses: int = 0,
        error: BaseException | None = None,
        context: Context | None = None,
    ) -> None:
        """One operation: ``hits + misses`` measurements for a read, one otherwise.

        ``context`` holds the operation's span, when it records: its measurements link to it.
        """
        try:
            timed = self._cost.sampled()
            started = time.perf_counter() if timed else 0.0
            record = self._duration.record
            if error is not None:
                record(duration_s, self._attributes(name, operation, None, type(error).__qualname__), context)
            elif hits or misses:
                share = duration_s / (hits + misses)
                for _ in range(hits):
                    record(share, self._attributes(name, operation, HIT, None), context)
                for _ in range(misses):
                    record(share, self._attributes(name, operation, MISS, None), context)
            else:
                record(duration_s, self._attributes(name, operation, None, None), context)
            if timed:
                self._cost.record(started)
        except Exception:  # noqa: BLE001 - never reach the application
            logger.debug("cache measurement failed", exc_info=True)

    def command(  # noqa: PLR0917 - mirrors the wrapped call: client, command, arguments, reply
        self,
        name: str,
        operation: str,
        args: Sequence[Any],
        reply: Any,
        duration_s: float,
        error: BaseException | None = None,
        context: Context | None = None,
    ) -> None:
        outcome = read_outcomes(operation, args, reply) if error is None else None
        hits, misses = outcome if outcome is not None else (0, 0)
        self.record(name, operation, duration_s, hits, misses, error, context)

    def pipeline(  # noqa: PLR0917 - mirrors ``command``
        self,
        name: str,
        commands: Sequence[Sequence[Any]],
        replies: Any,
        duration_s: float,
        error: BaseException | None = None,
        context: Context | None = None,
    ) -> None:
        """Each queued command counts, with an equal share of the round trip."""
        if error is not None or not commands or not isinstance(replies, list) or len(replies) != len(commands):
            self.record(name, "PIPELINE", duration_s, error=error, context=context)
            return
        share = duration_s / len(commands)
        for args, reply in zip(commands, replies, strict=True):
            failed = reply if isinstance(reply, Exception) else None
            self.command(name, command_name(args), args, None if failed else reply, share, failed, context)
