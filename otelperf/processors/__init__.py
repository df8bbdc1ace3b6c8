"""Span processors otelperf puts in front of the export pipeline, one concern each."""

from otelperf.processors.n_plus_one import NPlusOneSpanProcessor
from otelperf.processors.sanitizing import SanitizingSpanProcessor

__all__ = ["NPlusOneSpanProcessor", "SanitizingSpanProcessor"]
