"""The sample shop service run by ``otelperf demo`` and by docker compose, and its load generator."""
