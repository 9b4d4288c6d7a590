# Sourced by the tests here: a temporary directory, `cloudrun emulator` (the
# installed one, or $CLOUDRUN) on a free loopback port seeded with jobs.json,
# and the ok/FAIL tally with its closing line.
# shellcheck shell=bash
tests_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
tmp=$(mktemp -d)
emulator=""
trap '[ -z "$emulator" ] || { kill "$emulator" 2>/dev/null; wait "$emulator" 2>/dev/null; }; rm -rf "$tmp"' EXIT
passed=0 failed=0

# Sets $host (HOST:PORT) to where the emulator listens; its tasks log under $tmp/logs.
start_emulator() {
  local cloudrun=${CLOUDRUN:-$(command -v cloudrun)}
  [ -x "$cloudrun" ] || { echo "no cloudrun command" >&2; exit 1; }
  "$cloudrun" emulator --port 0 --quiet --jobs "$tests_dir/jobs.json" --log-dir "$tmp/logs" \
    >"$tmp/emulator.out" 2>&1 &
  emulator=$!
  for _ in $(seq 1 100); do
    grep -q listening "$tmp/emulator.out" && break
    sleep 0.05
  done
  host=$(sed -n 's|^cloudrun emulator listening on http://||p' "$tmp/emulator.out")
  [ -n "$host" ] || { echo "the emulator did not start:" >&2; cat "$tmp/emulator.out" >&2; exit 1; }
}

# Whether the smoke job's task for NAME ran with the overrides (args NAME, SMOKE=ok).
task_ran() {
  grep -rqx "smoke $1 ok" "$tmp/logs"
}

ok() { echo "ok   $*"; passed=$((passed + 1)); }
not_ok() { echo "FAIL $*"; failed=$((failed + 1)); }

# The closing line; the exit status says whether all passed (and something ran).
summary() {
  [ $((passed + failed)) -gt 0 ] || not_ok "$1: nothing was tested"
  echo "$1: $passed passed, $failed failed"
  [ "$failed" -eq 0 ]
}
