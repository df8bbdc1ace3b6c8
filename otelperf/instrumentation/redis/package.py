"""Library versions the otelperf Redis instrumentor supports (tested: redis-py 8)."""

_instruments = ("redis >= 5.0",)
