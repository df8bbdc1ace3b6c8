"""Where telemetry leaves the process: exporters that cannot hurt the app, and the span encoder.

``resilient`` wraps the OTLP exporters in a circuit breaker with rate-limited reporting and a
bounded shutdown; ``span_wire`` encodes span batches straight to OTLP protobuf bytes for the gRPC
exporter; ``reachability`` answers whether a backend listens (the profiler's start, ``otelperf doctor``).
"""
