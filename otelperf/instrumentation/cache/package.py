"""Library versions the Redis cache instrumentor supports (tested: redis-py 8)."""

_instruments = ("redis >= 5.0",)
