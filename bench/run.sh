#!/bin/sh
# Runs the benchmarks against a local emulator and prints their tables.
#   bench/run.sh [BUILD_DIR] [N]
set -eu
cd "$(dirname "$0")/.."
BUILD=${1:-build}
N=${2:-200}
PATH="$(pwd)/$BUILD/bin:$PATH"
out=$(mktemp)
logs=$(mktemp -d)
cloudrun emulator --port 0 --jobs bench/jobs.json --log-dir "$logs" --quiet >"$out" &
emu=$!
trap 'kill $emu 2>/dev/null; wait $emu 2>/dev/null; rm -rf "$out" "$logs"' EXIT INT TERM
for _ in $(seq 1 100); do grep -q listening "$out" && break; sleep 0.05; done
hostport=$(sed -n 's|^cloudrun emulator listening on http://||p' "$out")
CLOUD_RUN_EMULATOR_HOST=$hostport cloudrun-lua bench/trigger.lua "$N"
