"""SQLAlchemy instrumentation: one client span and one duration measurement per statement.

Why not the contrib instrumentor: it declares support below SQLAlchemy 2.1 (``opentelemetry-instrument``
then skips it without a word), instruments only the engines created after it through
``create_engine`` (several engines, contrib #1103/#3977), records statements with their
literals (contrib #1376), and emits no query-duration metric. This one listens on the
``Connection`` *class* (``_execution.py``: the execution step every statement goes through; engine
events, ``_events.py``, where that step is not SQLAlchemy 2.0/2.1's), so every engine is covered,
sync or async, created before or after instrumentation, and it records:

- a ``CLIENT`` span ``"{db.operation.name} {db.collection.name}"`` with ``db.system.name``,
  ``db.namespace``, ``db.query.text`` (literal-free), ``db.operation.name``,
  ``db.collection.name``, ``server.address``/``server.port``, and ``error.type`` on failure;
- ``db.client.operation.duration`` (s) for every statement, sampled or not, recorded in the
  span's context so exemplars link to the trace;
- an ``otelperf.db.slow_query`` span event on statements slower than ``slow_query_threshold_s``
  (``OTELPERF_DB_SLOW_QUERY_THRESHOLD``, default 0.5 s);
- pool metrics (``_pool``): ``db.client.connection.count`` (idle/used), ``.max``, ``.wait_time``,
  ``.timeouts``.

Usage::

    from otelperf.instrumentation.sqlalchemy import SQLAlchemyInstrumentor

    SQLAlchemyInstrumentor().instrument()

Under ``opentelemetry-instrument`` with otelperf installed this is automatic, and the contrib
``sqlalchemy`` instrumentor is not loaded, so statements are never traced twice.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from opentelemetry import metrics, trace
from opentelemetry.instrumentation.instrumentor import BaseInstrumentor  # type: ignore[attr-defined]
from opentelemetry.instrumentation.utils import unwrap
from wrapt import wrap_function_wrapper

from otelperf.instrumentation.sqlalchemy import _execution
from otelperf.instrumentation.sqlalchemy._events import EngineEvents
from otelperf.instrumentation.sqlalchemy._pool import PoolMetrics
from otelperf.instrumentation.sqlalchemy._statements import StatementRecorder
from otelperf.instrumentation.sqlalchemy.package import _instruments
from otelperf.log import logger
from otelperf.version import __version__

__all__ = ["SQLAlchemyInstrumentor"]


class SQLAlchemyInstrumentor(BaseInstrumentor):  # type: ignore[misc]
    """Instruments every SQLAlchemy engine, at the class level."""

    _hook: _execution.ExecutionHook | EngineEvents | None = None
    _pool_metrics: PoolMetrics | None = None

    def instrumentation_dependencies(self) -> Collection[str]:
        return _instruments

    def _instrument(self, **kwargs: Any) -> None:
        tracer = trace.get_tracer(__name__, __version__, tracer_provider=kwargs.get("tracer_provider"))
        meter = metrics.get_meter(__name__, __version__, meter_provider=kwargs.get("meter_provider"))
        recorder = StatementRecorder(tracer, meter, slow_query_threshold_s=kwargs.get("slow_query_threshold_s", 0.5))
        hook: _execution.ExecutionHook | EngineEvents
        if _execution.available():
            hook = _execution.ExecutionHook(recorder)
        else:
            logger.info(
                "otelperf_sqlalchemy: this SQLAlchemy's Connection has no _exec_single_context/"
                "_exec_insertmany_context(dialect, context, ...) as in 2.0 and 2.1; statements are "
                "timed through Engine events instead (same signals, more work per connection)"
            )
            hook = EngineEvents(recorder)
        hook.install()
        type(self)._hook = hook
        pool_metrics = PoolMetrics(meter)
        wrap_function_wrapper("sqlalchemy.engine.base", "Engine.raw_connection", pool_metrics.raw_connection)
        type(self)._pool_metrics = pool_metrics

    def _uninstrument(self, **kwargs: Any) -> None:
        from sqlalchemy.engine import Engine

        hook = type(self)._hook
        if hook is None:
            return
        unwrap(Engine, "raw_connection")
        type(self)._pool_metrics = None
        hook.remove()
        type(self)._hook = None
