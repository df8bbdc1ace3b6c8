"""The worker-pool instrumentor instruments the standard library (and anyio when present)."""

_instruments: tuple[str, ...] = ()
