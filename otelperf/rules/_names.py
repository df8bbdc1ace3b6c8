"""The Prometheus names of the metrics rules may measure, from the instrument catalog.

``semconv.INSTRUMENTS`` declares every metric; its ``prometheus_name`` is the name the collector's
``prometheus`` exporter gives it (the unit as a suffix, ``_total`` for counters); attributes become
labels with dots turned into underscores.
"""

from __future__ import annotations

from otelperf import semconv

PROMETHEUS_NAMES: dict[str, str] = {
    name: instrument.prometheus_name for name, instrument in semconv.INSTRUMENTS.items()
}


def label(attribute: str) -> str:
    """The Prometheus label an attribute becomes."""
    return semconv.prometheus_label(attribute)
