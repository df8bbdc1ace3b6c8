"""Grafana dashboards as code (``grafana-foundation-sdk``), generated from ``catalog``.

``otelperf dashboards generate`` writes ``grafana/dashboards/*.json``; the JSON is committed and a
test fails when it is stale. Needs the ``dashboards`` extra.
"""
