#!/usr/bin/env bash
# Build the otelperf collector distribution from builder-manifest.yaml and print its path.
#
# The binary is cached under $OTELPERF_CACHE_DIR (default ~/.cache/otelperf), keyed by the
# manifest's hash, so a warm machine reuses it and a changed manifest rebuilds it.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cache="${OTELPERF_CACHE_DIR:-$HOME/.cache/otelperf}"
builder_version="v0.165.0"
manifest="$here/builder-manifest.yaml"
key="$(sha256sum "$manifest" | cut -c1-16)"
out_dir="$cache/collector/$key"
binary="$out_dir/otelcol-otelperf"

if [[ -x "$binary" ]]; then
  echo "$binary"
  exit 0
fi

command -v go >/dev/null || { echo "build.sh: Go is required to build the collector" >&2; exit 1; }
mkdir -p "$cache/bin" "$out_dir"
builder="$cache/bin/builder-$builder_version"
if [[ ! -x "$builder" ]]; then
  echo "build.sh: installing the collector builder $builder_version" >&2
  GOBIN="$cache/bin/tmp" go install "go.opentelemetry.io/collector/cmd/builder@$builder_version" >&2
  mv "$cache/bin/tmp/builder" "$builder"
fi

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
sed "s#output_path: .*#output_path: $work/dist#" "$manifest" > "$work/manifest.yaml"
echo "build.sh: building the collector (a few minutes on a cold machine)" >&2
"$builder" --config "$work/manifest.yaml" >&2
mv "$work/dist/otelcol-otelperf" "$binary"
echo "$binary"
