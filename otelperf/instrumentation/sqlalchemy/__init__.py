"""SQLAlchemy instrumentation: one client span and one duration measurement per statement.

Why not the contrib instrumentor: it declares support below SQLAlchemy 2.1 (``opentelemetry-instrument``
then skips it without a word), instruments only the engines created after it through
``create_engine`` (several engines, contrib #1103/#3977), records statements with their
literals (contrib #1376), and emits no query-duration metric. This one listens on the
``Engine`` *class*, so every engine is covered, sync or async, created before or after
instrumentation, and it records:

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

from otelperf.instrumentation.sqlalchemy._listeners import QueryListener
from otelperf.instrumentation.sqlalchemy._pool import PoolMetrics
from otelperf.instrumentation.sqlalchemy.package import _instruments
from otelperf.version import __version__

__all__ = ["SQLAlchemyInstrumentor"]


class SQLAlchemyInstrumentor(BaseInstrumentor):  # type: ignore[misc]
    """Instruments every SQLAlchemy ``Engine`` through class-level events."""

    _listener: QueryListener | None = None
    _pool_metrics: PoolMetrics | None = None

    def instrumentation_dependencies(self) -> Collection[str]:
        return _instruments

    def _instrument(self, **kwargs: Any) -> None:
        from sqlalchemy import event
        from sqlalchemy.engine import Engine

        tracer = trace.get_tracer(__name__, __version__, tracer_provider=kwargs.get("tracer_provider"))
        meter = metrics.get_meter(__name__, __version__, meter_provider=kwargs.get("meter_provider"))
        listener = QueryListener(tracer, meter, slow_query_threshold_s=kwargs.get("slow_query_threshold_s", 0.5))
        for name, function in listener.events():
            event.listen(Engine, name, function)
        type(self)._listener = listener
        pool_metrics = PoolMetrics(meter)
        wrap_function_wrapper("sqlalchemy.engine.base", "Engine.raw_connection", pool_metrics.raw_connection)
        type(self)._pool_metrics = pool_metrics

    def _uninstrument(self, **kwargs: Any) -> None:
        from sqlalchemy import event
        from sqlalchemy.engine import Engine

        listener = type(self)._listener
        if listener is None:
            return
        unwrap(Engine, "raw_connection")
        type(self)._pool_metrics = None
        for name, function in listener.events():
            if event.contains(Engine, name, function):
                event.remove(Engine, name, function)
        type(self)._listener = None
