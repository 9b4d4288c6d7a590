#!/bin/sh
# Runs the benchmarks on loopback and prints their tables:
#   trigger.lua and fanout.lua against `cloudrun emulator`, auth.lua against cr-fake-google,
#   and the soak (bench/soak.c: does the emulator stay flat? SOAK_SECONDS, default 60).
#   bench/run.sh [BUILD_DIR] [N]
set -eu
cd "$(dirname "$0")/.."
BUILD=${1:-build}
N=${2:-200}
PATH="$(pwd)/$BUILD/bin:$PATH"
tmp=$(mktemp -d)
pids=""
trap 'for p in $pids; do kill $p 2>/dev/null; done; wait 2>/dev/null; rm -rf "$tmp"' EXIT INT TERM

wait_line() { # file pattern
  for _ in $(seq 1 100); do grep -q "$2" "$1" && return 0; sleep 0.05; done
  echo "bench: a server did not start" >&2; exit 1
}

mkdir "$tmp/logs"
cloudrun emulator --port 0 --jobs bench/jobs.json --log-dir "$tmp/logs" --quiet >"$tmp/emu" &
pids="$pids $!"
wait_line "$tmp/emu" listening
emu=$(sed -n 's|^cloudrun emulator listening on http://||p' "$tmp/emu")
echo "== trigger: the caller's cost of one call (emulator on $emu)"
CLOUD_RUN_EMULATOR_HOST=$emu cloudrun-lua bench/trigger.lua "$N"
echo
echo "== fan-out: run_jobs on the multi driver against one trigger after another"
CLOUD_RUN_EMULATOR_HOST=$emu cloudrun-lua bench/fanout.lua 100 32

openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$tmp/key.pem" 2>/dev/null
openssl pkey -in "$tmp/key.pem" -pubout -out "$tmp/pub.pem" 2>/dev/null
"$BUILD/tests/servers/cr-fake-google" --port 0 --public-key "$tmp/pub.pem" >"$tmp/fake" 2>/dev/null &
pids="$pids $!"
wait_line "$tmp/fake" listening
fake=$(sed -n 's|^fake-google listening on ||p' "$tmp/fake")
echo
echo "== auth: time to the first token per source, and a cached lookup (fake Google on $fake)"
FAKE_GOOGLE=$fake KEY_DIR=$tmp cloudrun-lua bench/auth.lua

echo
echo "== soak: the emulator under a steady load for ${SOAK_SECONDS:-60} s (bench/soak.c)"
"$BUILD/bench/cr-soak" "$BUILD/src/emulator/cloudrun-emulator" --seconds "${SOAK_SECONDS:-60}" --window "${SOAK_WINDOW:-10}"
