"""Span processors otelperf puts in front of the export processor, one concern each.

Spans end into them in the order the pipeline registers them: ``SanitizingSpanProcessor``
(``sanitizing``) rewrites statements, exception events, status descriptions, URLs and credential
headers with ``otelperf.redaction`` so no literal or secret is exported; ``NPlusOneSpanProcessor``
(``n_plus_one``) groups each request's database spans and marks repeated statements on the root
span; then the batch export processor. Both run on every span, in the thread that ends it, and
never raise.
"""

from otelperf.processors.n_plus_one import NPlusOneSpanProcessor
from otelperf.processors.sanitizing import SanitizingSpanProcessor

__all__ = ["NPlusOneSpanProcessor", "SanitizingSpanProcessor"]
