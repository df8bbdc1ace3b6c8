"""The runtime instrumentor needs only the standard library."""

_instruments: tuple[str, ...] = ()
