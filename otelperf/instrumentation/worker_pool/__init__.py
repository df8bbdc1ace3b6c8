"""Worker-pool metrics and trace context for thread pools, process pools and Starlette's threadpool.

Covered, with no change to application code:

- ``concurrent.futures.ThreadPoolExecutor.submit``, and so ``loop.run_in_executor`` (any
  executor) and ``asyncio.to_thread`` (the loop's default executor, named ``asyncio``);
- ``anyio.to_thread.run_sync``: the threadpool FastAPI/Starlette run sync ``def`` endpoints and
  dependencies in (pool ``anyio``; its size is the limiter's ``total_tokens``);
- ``concurrent.futures.ProcessPoolExecutor.submit``: tasks are pickled to another process, so
  only the time from submission to result is measured (as the task duration).

Metrics (pool name = the thread-name prefix the application chose, ``ThreadPoolExecutor`` for
unnamed pools, so names stay bounded): ``otelperf.worker_pool.task.duration`` (``outcome`` =
ok/error/cancelled), ``.queue.wait``, ``.queue.depth``, ``.workers.active``, ``.workers.max``.
Thread tasks run in the submitter's OpenTelemetry context, so their spans join its trace.

Usage::

    from otelperf.instrumentation.worker_pool import WorkerPoolInstrumentor

    WorkerPoolInstrumentor().instrument()
"""

from __future__ import annotations

import concurrent.futures
from collections.abc import Collection
from typing import Any, cast

from opentelemetry import context as otel_context
from opentelemetry.context import Context
from opentelemetry.instrumentation.instrumentor import BaseInstrumentor  # type: ignore[attr-defined]
from opentelemetry.instrumentation.utils import unwrap
from wrapt import wrap_function_wrapper

from otelperf.instrumentation.worker_pool._recorder import Pool, PoolRecorder, TaskLife
from otelperf.instrumentation.worker_pool.package import _instruments
from otelperf.log import logger
from otelperf.profiling.tags import current_root, tag_thread

__all__ = ["WorkerPoolInstrumentor"]

_state: dict[str, Any] = {}
_ANYIO_POOL = {"otelperf.worker_pool.name": "anyio", "otelperf.worker_pool.kind": "thread"}


class _ThreadTask(TaskLife):
    """What a thread pool runs instead of the submitted callable: the task's life around it, in
    the submitter's OpenTelemetry context, tagged with its request for the profiler."""

    __slots__ = ("_function", "_root")

    def __init__(self, pool: Pool, function: Any, context: Context) -> None:
        super().__init__(pool, context)
        self._function = function
        self._root = current_root.get()  # the request this task works for, for the thread tags

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        self.start()
        token = otel_context.attach(cast(Context, self._context))
        root = self._root
        tag_thread(root)
        outcome = "error"
        try:
            result = root.run(self._function, *args, **kwargs) if root is not None else self._function(*args, **kwargs)
            outcome = "ok"
            return result
        finally:
            # The thread keeps the task's tags until its next task re-tags it: the agent resolves
            # a sample's tags after taking its stack, so untagging here would strip the labels
            # from the task's last samples. An idle pool thread takes no CPU samples.
            otel_context.detach(token)
            self.finish(outcome)


def _thread_submit(wrapped: Any, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    recorder: PoolRecorder | None = _state.get("recorder")
    if recorder is None or not args:
        return wrapped(*args, **kwargs)
    try:
        pool = recorder.pool(instance, "thread", getattr(instance, "_max_workers", None))
        task = _ThreadTask(pool, args[0], otel_context.get_current())
    except Exception:  # noqa: BLE001 - the task runs unmeasured
        logger.debug("worker-pool task set-up failed", exc_info=True)
        return wrapped(*args, **kwargs)
    try:
        future = wrapped(task, *args[1:], **kwargs)
    except BaseException:
        task.dropped("error")
        raise
    future.add_done_callback(task.done)
    return future


def _process_submit(wrapped: Any, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    recorder: PoolRecorder | None = _state.get("recorder")
    future = wrapped(*args, **kwargs)
    if recorder is not None:
        try:
            pool = recorder.pool(instance, "process", getattr(instance, "_max_workers", None))
        except Exception:  # noqa: BLE001 - the future is the application's either way
            logger.debug("worker-pool task set-up failed", exc_info=True)
            return future
        task = TaskLife(pool, queued=False)
        task.start()  # the queue is in another process: the duration counts from submission

        def done(future: concurrent.futures.Future[Any]) -> None:
            if future.cancelled():
                task.finish("cancelled")
            else:
                task.finish("error" if future.exception() is not None else "ok")

        future.add_done_callback(done)
    return future


async def _anyio_run_sync(wrapped: Any, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    recorder: PoolRecorder | None = _state.get("recorder")
    if recorder is None or not args:
        return await wrapped(*args, **kwargs)
    limiter = kwargs.get("limiter")
    try:
        if limiter is None:
            import anyio.to_thread

            limiter = anyio.to_thread.current_default_thread_limiter()
        pool = recorder.pool(limiter, "thread", int(limiter.total_tokens), _ANYIO_POOL)
    except Exception:  # noqa: BLE001 - not measured
        return await wrapped(*args, **kwargs)
    task = TaskLife(pool)
    # anyio copies the contextvars (and so the OpenTelemetry context) into the worker itself.
    function = args[0]

    def run(*inner_args: Any) -> Any:
        task.start()
        root = current_root.get()  # anyio runs this in a copy of the caller's context
        tag_thread(root)
        outcome = "error"
        try:
            result = root.run(function, *inner_args) if root is not None else function(*inner_args)
            outcome = "ok"
            return result
        finally:
            task.finish(outcome)  # the tags stay until the next task, as in ``_ThreadTask``

    try:
        return await wrapped(run, *args[1:], **kwargs)
    finally:
        if not task.started:
            task.dropped("cancelled")


class WorkerPoolInstrumentor(BaseInstrumentor):  # type: ignore[misc]
    """Entry point ``otelperf_worker_pool``."""

    def instrumentation_dependencies(self) -> Collection[str]:
        return _instruments

    def _instrument(self, **kwargs: Any) -> None:
        _state["recorder"] = PoolRecorder(kwargs.get("meter_provider"))
        wrap_function_wrapper("concurrent.futures.thread", "ThreadPoolExecutor.submit", _thread_submit)
        wrap_function_wrapper("concurrent.futures.process", "ProcessPoolExecutor.submit", _process_submit)
        try:
            import anyio.to_thread  # noqa: F401
        except ImportError:
            return
        wrap_function_wrapper("anyio.to_thread", "run_sync", _anyio_run_sync)
        _state["anyio"] = True  # anyio was wrapped: unwrap it too

    def _uninstrument(self, **kwargs: Any) -> None:
        import concurrent.futures.process
        import concurrent.futures.thread

        unwrap(concurrent.futures.thread.ThreadPoolExecutor, "submit")
        unwrap(concurrent.futures.process.ProcessPoolExecutor, "submit")
        if _state.pop("anyio", None) is not None:
            import anyio.to_thread

            unwrap(anyio.to_thread, "run_sync")
        _state.pop("recorder", None)
