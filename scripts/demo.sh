#!/usr/bin/env bash
# Run the demo: the sample shop service under `opentelemetry-instrument` + otelperf, with its five
# built-in problems planted, loaded for 20 s; prints what was observed and the performance report,
# and writes the report as an HTML page (its path is the last line). Installs otelperf[demo] into
# ./.venv first. Embedded defaults: SQLite and an in-process cache; set REDIS_URL / DATABASE_URL to
# use servers, and OTEL_EXPORTER_OTLP_ENDPOINT to also export to a collector. Extra arguments go to
# `otelperf demo` (e.g. --healthy, --problems n_plus_one,cold_cache, --duration 60): docs/report.md.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
python="${PYTHON:-python3}"
if [[ ! -x .venv/bin/python ]]; then
  "$python" -m venv .venv
  .venv/bin/pip install -q --upgrade pip
fi
.venv/bin/pip install -q -e ".[demo]"
exec .venv/bin/otelperf demo "$@"
