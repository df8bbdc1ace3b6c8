#!/usr/bin/env bash
# Run the whole test suite on a fresh Debian 12 machine: installs what it needs, then lints,
# validates the collector configs and runs every test (unit and end to end), then the unit tests
# again with the fast paths forced off (OTELPERF_FAST_PATHS=false).
#
# Installs (each only when missing): Debian's redis-server, PostgreSQL 15, Prometheus and Chromium, a virtualenv with
# otelperf[test] under $OTELPERF_CACHE_DIR, and the otelperf collector built from
# collector-config/builder-manifest.yaml (cached there too, rebuilt when the manifest changes).
#
# --fast: lint, types, import contracts and tests/unit only (both passes; further arguments go to pytest);
# no system packages, no collector, no services. It still builds the virtualenv when it is missing.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
cache="${OTELPERF_CACHE_DIR:-$HOME/.cache/otelperf}"
export OTELPERF_CACHE_DIR="$cache"
mkdir -p "$cache"
fast=false
if [[ "${1:-}" == --fast ]]; then
  fast=true
  shift
  set -- tests/unit "$@"
fi

step() { printf '\n== %s\n' "$*"; }

if ! $fast; then
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

if ! $fast; then
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
fi

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
((status == 0)) || exit $status

# The unit tests once more with every fast path forced off, so the public paths they fall back to
# stay correct: after the whole suite, or after a run of unit tests only (the same arguments).
forced_off=()
if (($# == 0)); then
  forced_off=(tests/unit)
else
  for arg in "$@"; do
    if [[ $arg != -* && $arg != tests/unit* ]]; then forced_off=(); break; fi
    forced_off+=("$arg")
  done
fi
if ((${#forced_off[@]})); then
  step "unit tests with OTELPERF_FAST_PATHS=false"
  OTELPERF_FAST_PATHS=false python -m pytest -q -p no:cacheprovider -rs "${forced_off[@]}"
fi
