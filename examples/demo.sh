#!/bin/sh
# Runs the example end to end against the local emulator: starts
# `cloudrun emulator` with examples/jobs.json on a free port, triggers the
# report job with overrides, waits, prints the outcome, stops the emulator.
#   examples/demo.sh [BUILD_DIR]
set -eu
cd "$(dirname "$0")/.."
BUILD=${1:-build}
PATH="$(pwd)/$BUILD/bin:$PATH"
export PATH

out=$(mktemp)
logs=$(mktemp -d)
cloudrun emulator --port 0 --jobs examples/jobs.json --log-dir "$logs" --quiet >"$out" &
emulator=$!
trap 'kill $emulator 2>/dev/null; wait $emulator 2>/dev/null; rm -rf "$out" "$logs"' EXIT INT TERM

# the emulator's first line says where it listens
for _ in $(seq 1 100); do
  grep -q listening "$out" && break
  sleep 0.05
done
hostport=$(sed -n 's|^cloudrun emulator listening on http://||p' "$out")
[ -n "$hostport" ] || { echo "demo: the emulator did not start" >&2; exit 1; }
echo "emulator on $hostport (CLOUD_RUN_EMULATOR_HOST=$hostport)"

CLOUD_RUN_EMULATOR_HOST=$hostport cloudrun-lua examples/trigger.lua 42
