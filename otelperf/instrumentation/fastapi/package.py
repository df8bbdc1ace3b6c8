"""Library versions the otelperf FastAPI instrumentor supports (tested: 0.165)."""

_instruments = ("fastapi >= 0.100",)
