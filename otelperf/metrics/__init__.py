"""The metrics hot path: otelperf's own instruments and the cheap way they reach the SDK.

``instruments`` wraps the SDK instruments otelperf records with a series limit whose overflow is
counted; ``direct`` feeds a histogram's SDK aggregations without the public path's per-measurement
attribute work; ``exemplars`` is the exemplar reservoir otelperf's views give explicit-bucket
histograms. Instrumentors and processors record through ``instruments`` only.
"""
