#!/usr/bin/env bash
# Run the whole test suite on a fresh Debian 12 machine: installs what it needs, then lints,
# validates the collector configs and runs every test (unit and end to end).
#
# Installs (each only when missing): Debian's redis-server, PostgreSQL 15, Prometheus and Chromium, a virtualenv with
# otelperf[test] under $OTELPERF_CACHE_DIR, and the otelperf collector built from
# collector-config/builder-manifest.yaml (cached there too, rebuilt when the manifest changes).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
cache="${OTELPERF_CACHE_DIR:-$HOME/.cache/otelperf}"
export OTELPERF_CACHE_DIR="$cache"
mkdir -p "$cache"

step() { printf '\n== %s\n' "$*"; }

step "system packages"
missing=()
command -v redis-server >/dev/null || missing+=(redis-server)
[[ -x /usr/lib/postgresql/15/bin/initdb ]] || missing+=(postgresql)
command -v prometheus >/dev/null && command -v promtool >/dev/null || missing+=(prometheus)
# The HTML report's browser test drives Debian's Chromium (Playwright's own browser download is not used).
[[ -x /usr/bin/chromium ]] || missing+=(chromium)
if ((${#missing[@]})); then
  sudo=""; [[ "$(id -u)" == 0 ]] || sudo="sudo"
  $sudo apt-get update -q
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends "${missing[@]}"
else
  echo "redis-server, PostgreSQL 15, Prometheus and Chromium present"
fi

step "python environment"
python="${PYTHON:-python3}"
key="$("$python" -c 'import sys; print("py%d%d" % sys.version_info[:2])')-$(sha256sum pyproject.toml | cut -c1-12)"
venv="$cache/venv-$key"
if [[ ! -f "$venv/.complete" ]]; then
  # Built in place (a virtualenv cannot be moved); the marker says the install finished.
  rm -rf "$venv"
  "$python" -m venv "$venv"
  "$venv/bin/pip" install -q --upgrade pip
  "$venv/bin/pip" install -q -e ".[test]"
  touch "$venv/.complete"
fi
# The checkout may live elsewhere than last time: point the editable install here (no downloads).
"$venv/bin/pip" install -q --no-deps --no-build-isolation -e . 2>/dev/null \
  || "$venv/bin/pip" install -q --no-deps -e .
export PATH="$venv/bin:$PATH"
echo "virtualenv: $venv"

step "collector"
collector="$(bash collector-config/build.sh)"
echo "collector: $collector"
for config in collector-config/*.yaml; do
  [[ "$config" == *builder-manifest.yaml ]] && continue
  OTELPERF_TEST_GRPC_PORT=4317 OTELPERF_TEST_HTTP_PORT=4318 OTELPERF_TEST_HEALTH_PORT=13133 \
    OTELPERF_TEST_OUT_DIR=/tmp "$collector" validate --config "$config"
  echo "valid: $config"
done

promtool check config prometheus/prometheus.yml

step "lint"
ruff check otelperf tests bench
ruff format --check otelperf tests bench
mypy
lint-imports --no-cache

step "tests"
set +e
python -m pytest -q -p no:cacheprovider "$@"
status=$?
set -e
if [[ $status == 5 ]]; then
  echo "pytest collected no test: failing the run" >&2
  exit 1
fi
exit $status
