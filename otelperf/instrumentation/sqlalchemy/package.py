"""Library versions the otelperf SQLAlchemy instrumentor supports (tested: 2.0 and 2.1)."""

_instruments = ("sqlalchemy >= 2.0",)
