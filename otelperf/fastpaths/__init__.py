"""The SDK contract: every read of a private OpenTelemetry SDK or exporter name lives here.

otelperf's hot paths read a few SDK internals that the public API would make them copy or
recompute. Each concern is one module; each module decides once, at import, whether the SDK in
this process is laid out as it expects, and otherwise the public path is used.
"""
