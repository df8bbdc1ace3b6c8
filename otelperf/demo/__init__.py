"""The sample shop service run by ``otelperf demo`` and by docker compose, and its load generator.

Not part of the runtime plugin: ``app`` is an ordinary FastAPI application (cache, database, worker
pool) that otelperf instruments from outside, like any user's service, and ``load`` drives it with
weighted traffic and summarises what it saw.
"""
