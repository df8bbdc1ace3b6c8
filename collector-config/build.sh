#!/usr/bin/env bash
# Build the otelperf collector distribution from builder-manifest.yaml and print its path.
#
# The binary is cached under $OTELPERF_CACHE_DIR (default ~/.cache/otelperf), keyed by the hash of
# the manifest and of this script, so a warm machine reuses it and any change rebuilds it.
#
# Why not plain `builder --config`: the builder runs `go mod tidy`, which also fetches the *test*
# dependencies of every component, and the Go module proxy reachable here refuses one of them
# (contrib's otlpencodingextension, a test-only import of the file exporter). So the builder only
# generates the sources; `go build -mod=mod` then resolves the module graph from go.mod files and
# downloads just the packages that are compiled in.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cache="${OTELPERF_CACHE_DIR:-$HOME/.cache/otelperf}"
builder_version="v0.165.0"
manifest="$here/builder-manifest.yaml"
key="$(cat "$manifest" "${BASH_SOURCE[0]}" | sha256sum | cut -c1-16)"
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
echo "build.sh: generating the collector sources" >&2
"$builder" --config "$work/manifest.yaml" --skip-get-modules --skip-compilation >&2 2>/dev/null \
  || "$builder" --config "$work/manifest.yaml" --skip-get-modules --skip-compilation >&2
cd "$work/dist"
go mod init otelcol-otelperf >/dev/null 2>&1
{
  echo "require ("
  grep -E '^\s*- gomod:' "$work/manifest.yaml" | sed -E 's/^\s*- gomod:\s*"?([^ "]+) ([^ "]+)"?\s*$/\t\1 \2/'
  echo ")"
} >> go.mod
echo "build.sh: compiling the collector (about 3 minutes on a cold machine)" >&2
GOFLAGS=-mod=mod go build -trimpath -ldflags="-s -w" -o "$binary.tmp" . >&2
mv "$binary.tmp" "$binary"
echo "$binary"
