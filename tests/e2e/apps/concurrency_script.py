"""Threads, asyncio tasks, a thread pool and a process pool all busy at once under otelperf, then
the interpreter exits (or is sent SIGTERM) in the middle of it: nothing may hang."""

from __future__ import annotations

import asyncio
import os
import sys
import threading
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor

import sqlalchemy
from opentelemetry import trace

from otelperf.instrumentation.cache.memory import MeteredCache

RUN_S = float(os.environ.get("RUN_S", "3"))
tracer = trace.get_tracer("concurrency")
engine = sqlalchemy.create_engine(f"sqlite:///{sys.argv[1]}", pool_size=8)
cache: MeteredCache[int, int] = MeteredCache({}, name="shared")
pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="work")
stop = threading.Event()


def square(value: int) -> int:
    return value * value


def thread_work(index: int) -> None:
    while not stop.is_set():
        with tracer.start_as_current_span(f"thread-{index}"), engine.connect() as connection:
            connection.execute(sqlalchemy.text("SELECT 1")).scalar()
            cache.get(index) or cache.setdefault(index, index)
            pool.submit(square, index).result()


async def task_work(index: int) -> None:
    loop = asyncio.get_running_loop()
    while not stop.is_set():
        with tracer.start_as_current_span(f"task-{index}"):
            await asyncio.to_thread(square, index)
            await loop.run_in_executor(pool, square, index)
            await asyncio.sleep(0.001)


async def main() -> None:
    threads = [threading.Thread(target=thread_work, args=(i,)) for i in range(4)]  # not daemons
    for thread in threads:
        thread.start()
    with ProcessPoolExecutor(max_workers=2) as processes:
        tasks = [asyncio.create_task(task_work(i)) for i in range(20)]
        results = [processes.submit(square, i) for i in range(50)]
        assert sum(f.result() for f in results) == sum(i * i for i in range(50))
        print("busy", flush=True)
        await asyncio.sleep(RUN_S)
        stop.set()
        await asyncio.gather(*tasks)
    for thread in threads:
        thread.join()
    print("done", flush=True)
    # Exit with the thread pool still alive: interpreter shutdown joins it, then otelperf flushes.


if __name__ == "__main__":
    asyncio.run(main())
