#!/usr/bin/env bash
# bench/run.sh — what a trigger costs, beside the floors it cannot beat and
# Google's own Node client (issue 13), in one run on loopback:
#   (a) floor A  a bare libcurl keep-alive loop posting the RunJob body   bench/floor_keepalive.c
#   (b) our C API, cr_client_run_job on a warm client                     bench/c_api.c
#   (c) our Lua API, client:run_job on a warm client                      bench/lua_api.lua
#   (d) floor B  a bare libcurl one-shot process                          bench/floor_oneshot.c
#   (e) one-shot `cloudrun-lua -e` (self-signed JWT) and `cloudrun jobs execute --async`
#       (service-account key, token exchanged with cr-fake-google on loopback): cold (the
#       token cache off, CLOUDRUN_TOKEN_CACHE=0), and warm: a second one-shot within the
#       token's life, which takes it from the per-user cache file (issue 24)
#   (f) Google's Node client (@google-cloud/run), warm and cold           bench/node/
#   (g) run_jobs fan-out against 20 ms of server latency                  bench/fanout_standin.lua
#   (h) floor C  spawn-and-wait of /bin/true (bench/measure.c), beside the emulator's
#       executions per second (bench/emulator.lua) and GetExecution/s on 16
#       connections (bench/getload.c)
# (a)-(g) run against cr-standin (tests/servers/standin.c), a strict stand-in
# for the two API calls that refuses what Google would refuse; every path
# sends the same RunJob body with a bearer token. Rounds are interleaved
# (a, b, c, ... then again; (d) and (e) take turns process by process), so
# that other work on the machine weighs on every path alike; report.lua
# prints the medians over rounds, each ratio beside its target, and writes
# the same as JSON. See bench/README.md. After it, the older tables and the
# requests to follow many executions: per-execution wait against wait_all
# (bench/wait_all.lua), and the triggers per minute under run_jobs' per_minute
# (bench/rate.lua; both issue 24).
#
#   bench/run.sh [BUILD_DIR] [N]        full run (make bench); N: the extras' calls (200)
#   BENCH_QUICK=1 bench/run.sh [BUILD]  every part with tiny N, no thresholds (make bench-quick)
# Environment: BENCH_ROUNDS (7; quick 1), BENCH_JSON (bench/results.json),
#   BENCH_EXTRAS=0 to skip the older tables (trigger.lua, fanout.lua, auth.lua, wait_all.lua, rate.lua), BENCH_NODE=0 to skip (f),
#   BENCH_PIN=0 not to pin the warm loops (see PLACES below),
#   CR_REQUIRE_NODE_TESTS=1 to fail instead of skipping (f) without node/npm.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
BUILD=$(cd "${1:-build}" && pwd)
N=${2:-200}
QUICK=${BENCH_QUICK:-0}
JSON_OUT=${BENCH_JSON:-$ROOT/bench/results.json}
PATH="$BUILD/bin:$PATH"
export PATH
unset CLOUD_RUN_EMULATOR_HOST CLOUDSDK_API_ENDPOINT_OVERRIDES_RUN GOOGLE_APPLICATION_CREDENTIALS

if [ "$QUICK" = 1 ]; then
  ROUNDS=${BENCH_ROUNDS:-1} WARM_N=50 NODE_WARM_N=20 ONESHOT_N=3 NODE_COLD_N=1
  FAN_N=20 EMU_N=40 SPAWN_N=100 GET_S=0.5 N=20
else
  ROUNDS=${BENCH_ROUNDS:-7} WARM_N=1500 NODE_WARM_N=300 ONESHOT_N=15 NODE_COLD_N=3
  FAN_N=100 EMU_N=1000 SPAWN_N=1000 GET_S=2
fi
IN_FLIGHT=32
TOKEN=ya29.bench-ready-token

tmp=$(mktemp -d)
pids=""
cleanup() {
  for p in $pids; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$tmp" ${SHM:+"$SHM"}
}
trap cleanup EXIT
trap 'exit 130' INT TERM

say() { echo "bench: $*" >&2; }
die() { say "$*"; exit 1; }

# ---- the programs ------------------------------------------------------------
BIN=$BUILD/bench
mkdir -p "$BIN"
CC=${CC:-cc}
CFLAGS="-O2 -g -std=gnu11 -Wall -Wextra -Wno-unused-parameter"
curl_flags=$(pkg-config --cflags --libs libcurl)
cjson_flags=$(pkg-config --cflags --libs libcjson)
# shellcheck disable=SC2086 # flag lists
{
  $CC $CFLAGS -o "$BIN/floor_keepalive" bench/floor_keepalive.c $curl_flags
  $CC $CFLAGS -o "$BIN/floor_oneshot" bench/floor_oneshot.c $curl_flags
  $CC $CFLAGS -o "$BIN/measure" bench/measure.c
  $CC $CFLAGS -o "$BIN/getload" bench/getload.c
  $CC $CFLAGS -Isrc/core/include -o "$BIN/c_api" bench/c_api.c -L"$BUILD" -lcloudrun -Wl,-rpath,"$BUILD" $cjson_flags
} || die "could not build the benchmark programs"
for t in cr-standin cr-fake-google; do
  [ -x "$BUILD/tests/servers/$t" ] || cmake --build "$BUILD" --target "$t" >/dev/null ||
    die "no $BUILD/tests/servers/$t (build the project first: make build)"
done
for t in cloudrun cloudrun-lua; do
  [ -x "$BUILD/bin/$t" ] || die "no $BUILD/bin/$t (build the project first: make build)"
done

# ---- the servers -------------------------------------------------------------
# start NAME PATTERN COMMAND... — starts a server, waits for its first line, sets $addr to host:port
start() {
  name=$1 pattern=$2
  shift 2
  : >"$tmp/$name.out" # there before the server's shell opens it, for the sed below
  "$@" >"$tmp/$name.out" 2>"$tmp/$name.err" &
  last_pid=$!
  pids="$pids $last_pid"
  for _ in $(seq 1 200); do
    addr=$(sed -n "s|^$pattern||p" "$tmp/$name.out" | head -n 1)
    [ -n "$addr" ] && return 0
    sleep 0.05
  done
  cat "$tmp/$name.err" >&2
  die "$name did not start"
}

stop() { # PID
  kill "$1" 2>/dev/null || true
  wait "$1" 2>/dev/null || true
}

# Where a warm client runs matters more than anything it does: on this kind of machine a
# request and its answer between two CPUs cost the client twice the CPU of the same
# exchange on one (wake-ups across CPUs). So the stand-in for the warm loops is pinned to
# CPU 0 and each warm loop runs twice, on CPU 0 beside it and on CPU 1 (ids with _x);
# without taskset or a second CPU, once, where the scheduler puts it.
PIN=()
PLACES=("")
if command -v taskset >/dev/null 2>&1 && [ "$(nproc)" -ge 2 ] && [ "${BENCH_PIN:-1}" = 1 ]; then
  PIN=(taskset -c 0)
  PLACES=(0 1)
fi
start standin "standin listening on " "${PIN[@]}" "$BUILD/tests/servers/cr-standin" --require-auth
SI=$addr
start slow "standin listening on " "$BUILD/tests/servers/cr-standin" --require-auth --delay-ms 20
SLOW=$addr
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$tmp/key.pem" 2>/dev/null
openssl pkey -in "$tmp/key.pem" -pubout -out "$tmp/pub.pem" 2>/dev/null
start fake "fake-google listening on " "$BUILD/tests/servers/cr-fake-google" --public-key "$tmp/pub.pem"
FAKE=$addr
KEY=$tmp/sa.json
{
  printf '{"type":"service_account","project_id":"bench","private_key_id":"bench-key-1",'
  printf '"private_key":"%s",' "$(awk '{printf "%s\\n", $0}' "$tmp/key.pem")"
  printf '"client_email":"bench@bench.iam.gserviceaccount.com","client_id":"1",'
  printf '"token_uri":"http://%s/token"}\n' "$FAKE"
} >"$KEY"
mkdir "$tmp/gcloud" "$tmp/logs" # an empty gcloud configuration: nothing of this machine's leaks in
# ... and nothing of the run's stays in the user's: every process here sees the empty one, with
# the token cache off unless it is what is measured (the one-shots of (e), oneshot_env below)
export CLOUDSDK_CONFIG="$tmp/gcloud" CLOUDRUN_TOKEN_CACHE=0
RUN_URL="http://$SI/v2/projects/bench/locations/local/jobs/noop:run"
# what every path sends (lua-cloudrun's body for args {"--id=42"}, env {ID=42}; bench/bench.h)
RUN_BODY='{"overrides":{"containerOverrides":[{"args":["--id=42"],"env":[{"name":"ID","value":"42"}]}]}}'

# A number from a JSON object on one line: field NAME TEXT
field() { printf '%s\n' "$2" | sed -n "s/.*\"$1\":\([0-9.]*\).*/\1/p"; }

# ---- Node (test-time only, like tests/node) ----------------------------------
NODE=0
node_install() {
  here=$ROOT/bench/node
  if [ -f "$here/node_modules/@google-cloud/run/package.json" ] && [ -f "$here/node_modules/.package-lock.json" ] &&
     [ ! "$here/package-lock.json" -nt "$here/node_modules/.package-lock.json" ]; then
    return 0
  fi
  say "npm ci in $here"
  (cd "$here" && npm ci --no-audit --no-fund --loglevel=error >&2)
}
if [ "${BENCH_NODE:-1}" = 0 ]; then
  say "BENCH_NODE=0: Google's Node client (f) skipped"
elif command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1; then
  if command -v flock >/dev/null 2>&1; then
    exec 9>"$ROOT/bench/node/node_modules.lock"
    flock 9
  fi
  if node_install; then
    NODE=1
  elif [ "${CR_REQUIRE_NODE_TESTS:-0}" = 1 ]; then
    die "npm ci failed in bench/node"
  else
    say "npm ci failed (offline?): Google's Node client (f) skipped"
  fi
  command -v flock >/dev/null 2>&1 && exec 9>&-
elif [ "${CR_REQUIRE_NODE_TESTS:-0}" = 1 ]; then
  die "node and npm are needed for (f) (Debian: apt-get install nodejs npm)"
else
  say "no node/npm (Debian: apt-get install nodejs npm): Google's Node client (f) skipped"
fi

# ---- measuring -------------------------------------------------------------------
RES=$tmp/results.jsonl
: >"$RES"
round=0

# record IDS — the JSON lines on stdin, the first for the first id and so on,
# each with its id, its round and extra_ID (when set) added, into the results.
record() {
  local ids i=0 line extra
  read -r -a ids <<<"$1"
  while IFS= read -r line; do
    [ $i -lt ${#ids[@]} ] || die "more measurements than names ($1)"
    extra=extra_${ids[$i]}
    printf '%s\n' "$line" | sed "s/^{/{\"id\":\"${ids[$i]}\",\"round\":$round,${!extra:-}/" >>"$RES"
    i=$((i + 1))
  done
}

# run COMMAND... — its stdout; a failure ends the run, with the command's stderr
run() {
  "$@" 2>"$tmp/run.err" || { cat "$tmp/run.err" >&2; die "failed: $*"; }
}

# warm ID COMMAND... — a warm loop in each place (PLACES), recorded with what the stand-in
# saw meanwhile: its RunJob calls and its own CPU per call (so that the server is seen not
# to be the limit). ID on CPU 0 or unpinned, ID_x on CPU 1.
warm() {
  local id=$1 place
  shift
  for place in "${PLACES[@]}"; do
    if [ -z "$place" ]; then
      warm_once "$id" "$@"
    elif [ "$place" = 0 ]; then
      warm_once "$id" taskset -c 0 "$@"
    else
      warm_once "${id}_x" taskset -c "$place" "$@"
    fi
  done
}
warm_once() {
  local id=$1 s0 s1 out calls cpu
  shift
  s0=$(curl -sS "http://$SI/stats")
  out=$(run "$@")
  s1=$(curl -sS "http://$SI/stats")
  calls=$(($(field run_job "$s1") - $(field run_job "$s0")))
  cpu=$(awk -v a="$(field cpu_us "$s0")" -v b="$(field cpu_us "$s1")" -v n="$calls" \
    'BEGIN { printf "%.2f", (n > 0 ? (b - a) / n : 0) }')
  printf -v "extra_$id" '"server_calls":%d,"server_cpu_us":%s,' "$calls" "$cpu"
  printf '%s\n' "$out" | record "$id"
}

# The one-shots (d), (e) and (f cold), in the one environment they all run in
# (each ignores what is not its own; env starts measure once, not each process).
ONESHOT_LUA='local c = require("cloudrun")
local creds = assert(c.auth.from_file(os.getenv("BENCH_KEY"), { self_signed_jwt = true }))
local client = assert(c.client{ project = "bench", region = "local", endpoint = os.getenv("BENCH_ENDPOINT"),
  credentials = creds })
assert(client:run_job("noop", { args = { "--id=42" }, env = { ID = "42" } }))'
oneshot_d=("$BIN/floor_oneshot" "$RUN_URL" "$TOKEN")
# cold: every process signs (and the CLI exchanges) as if it were the first; warm: the
# token an earlier process left in $CLOUDSDK_CONFIG/cloudrun/access_tokens.json. measure
# sets a command's NAME=VALUE words itself: no env process in between.
oneshot_e_lua=(CLOUDRUN_TOKEN_CACHE=0 cloudrun-lua -e "$ONESHOT_LUA")
oneshot_e_cli=(CLOUDRUN_TOKEN_CACHE=0 cloudrun jobs execute noop --async --project bench --region local
  --args=--id=42 --update-env-vars=ID=42)
oneshot_e_lua_warm=("${oneshot_e_lua[@]:1}")
oneshot_e_cli_warm=("${oneshot_e_cli[@]:1}")
oneshot_f_cold=(node bench/node/cold.js "$SI")
oneshot_env() {
  env BENCH_KEY="$KEY" BENCH_ENDPOINT="http://$SI" GOOGLE_APPLICATION_CREDENTIALS="$KEY" \
    CLOUDSDK_API_ENDPOINT_OVERRIDES_RUN="http://$SI/" CLOUDSDK_CONFIG="$tmp/gcloud" CLOUDRUN_TOKEN_CACHE=1 "$@"
}

# Each one-shot once before anything is timed: it works, and how many token requests
# cr-fake-google answers for it (recorded with its figures as token_requests). A warm
# one runs once more first, to leave its token in the cache: what it costs is the
# second one-shot's.
for id in d e_lua e_cli e_lua_warm e_cli_warm f_cold; do
  [ "$id" = f_cold ] && [ "$NODE" != 1 ] && continue
  cmd="oneshot_${id}[@]"
  case $id in *_warm) run oneshot_env "${!cmd}" >/dev/null ;; esac
  f0=$(curl -sS "http://$FAKE/stats")
  run oneshot_env "${!cmd}" >/dev/null # env takes the NAME=VALUE words too
  f1=$(curl -sS "http://$FAKE/stats")
  printf -v "extra_$id" '"token_requests":%d,' $(($(field token_requests "$f1") - $(field token_requests "$f0")))
done

# (h): a fresh emulator; EMU_N RunJob calls with IN_FLIGHT connections (getload, not
# run_jobs: see emulator.lua), every execution waited for; then GetExecution on 16.
# Floor C just before and just after, so that both see the same machine. The
# emulator keeps each execution's logs in a directory of their own, a file a
# task: its --log-dir is on this run's temporary directory ($TMPDIR, usually
# the disk), as by default; a second emulator (h_tmpfs) has it on tmpfs
# (/dev/shm), to show what the file system's inode allocation costs.
SHM=
if [ -d /dev/shm ] && [ -w /dev/shm ] && [ "$(stat -f -c %T /dev/shm 2>/dev/null)" = tmpfs ]; then
  SHM=$(mktemp -d -p /dev/shm cloudrun-bench.XXXXXX)
fi

# emulator_on LOGDIR ID — one fresh emulator, its executions/s recorded as ID
emulator_on() {
  start emulator "cloudrun emulator listening on http://" cloudrun emulator --port 0 --jobs bench/jobs.json \
    --log-dir "$1" --quiet
  emu=$addr emu_pid=$last_pid
  run "$BIN/getload" "${emu%:*}" "${emu##*:}" /v2/projects/bench/locations/local/jobs/noop:run "$IN_FLIGHT" 120 \
    "$RUN_BODY" "$EMU_N" | record "${2/emulator/runjob}"
  out=$(CLOUD_RUN_EMULATOR_HOST=$emu run cloudrun-lua bench/emulator.lua "$EMU_N" "$IN_FLIGHT" none)
  printf '%s\n' "$out" | record "$2"
}

emulator_round() {
  run "$BIN/measure" -n $((SPAWN_N / 2)) -- /bin/true | record h_floor
  emulator_on "$tmp/logs" h_emulator
  execution=$(printf '%s\n' "$out" | sed -n 's/.*"execution":"\([^"]*\)".*/\1/p')
  run "$BIN/getload" "${emu%:*}" "${emu##*:}" "/v2/$execution" 16 "$GET_S" | record h_get
  stop "$emu_pid"
  rm -rf "$tmp/logs" && mkdir "$tmp/logs"
  if [ -n "$SHM" ]; then
    emulator_on "$SHM" h_emulator_tmpfs
    stop "$emu_pid"
    rm -rf "$SHM" && mkdir "$SHM"
  fi
  run "$BIN/measure" -n $((SPAWN_N / 2)) -- /bin/true | record h_floor
}

say "rounds: $ROUNDS; warm calls: $WARM_N (Node $NODE_WARM_N); one-shot processes: $ONESHOT_N (Node $NODE_COLD_N)"
load0=$(cut -d' ' -f1-3 /proc/loadavg)
t_start=$(date +%s)
while [ "$round" -lt "$ROUNDS" ]; do
  round=$((round + 1))
  say "round $round of $ROUNDS"
  warm a "$BIN/floor_keepalive" "$RUN_URL" "$TOKEN" "$WARM_N"
  warm b "$BIN/c_api" "http://$SI" "$TOKEN" "$WARM_N"
  warm c cloudrun-lua bench/lua_api.lua "http://$SI" "$TOKEN" "$WARM_N"
  [ "$NODE" = 1 ] && warm f_warm node bench/node/warm.js "$SI" "$TOKEN" "$NODE_WARM_N"
  # (d) and (e) take turns, process by process
  run oneshot_env "$BIN/measure" -n "$ONESHOT_N" -- "${oneshot_d[@]}" -- "${oneshot_e_lua[@]}" \
    -- "${oneshot_e_cli[@]}" -- "${oneshot_e_lua_warm[@]}" -- "${oneshot_e_cli_warm[@]}" |
    record "d e_lua e_cli e_lua_warm e_cli_warm"
  [ "$NODE" = 1 ] && run oneshot_env "$BIN/measure" -n "$NODE_COLD_N" -- "${oneshot_f_cold[@]}" | record f_cold
  run cloudrun-lua bench/fanout_standin.lua "http://$SLOW" "$TOKEN" "$FAN_N" "$IN_FLIGHT" | record g
  emulator_round
done
load1=$(cut -d' ' -f1-3 /proc/loadavg)

# Every request every path sent passed the stand-in's checks.
stats=$(curl -sS "http://$SI/stats")
[ "$(field rejected "$stats")" = 0 ] || die "the stand-in refused requests: $stats"
stats=$(curl -sS "http://$SLOW/stats")
[ "$(field rejected "$stats")" = 0 ] || die "the slow stand-in refused requests: $stats"

BENCH_META="{\"quick\":$([ "$QUICK" = 1 ] && echo true || echo false),\"rounds\":$ROUNDS,\"warm_calls\":$WARM_N,\
\"node_warm_calls\":$NODE_WARM_N,\"oneshot_processes\":$ONESHOT_N,\"node_cold_processes\":$NODE_COLD_N,\
\"fanout_calls\":$FAN_N,\"in_flight\":$IN_FLIGHT,\"emulator_executions\":$EMU_N,\"spawns\":$SPAWN_N,\
\"get_seconds\":$GET_S,\"pinned\":$([ ${#PIN[@]} -gt 0 ] && echo true || echo false),\"node\":$([ "$NODE" = 1 ] && echo true || echo false),\"cpus\":$(nproc),\
\"load_before\":\"$load0\",\"load_after\":\"$load1\",\"seconds\":$(($(date +%s) - t_start)),\
\"commit\":\"${BENCH_COMMIT:-$(git rev-parse --short HEAD 2>/dev/null || echo unknown)}\",\"date\":\"$(date -u +%Y-%m-%dT%H:%M:%SZ)\"}"
[ -n "${BENCH_DEBUG:-}" ] && { echo "$BENCH_META"; cat "$RES"; } >&2
BENCH_META=$BENCH_META cloudrun-lua bench/report.lua "$RES" "$JSON_OUT"

# ---- the older tables ------------------------------------------------------------
[ "${BENCH_EXTRAS:-1}" = 0 ] && exit 0
start emulator "cloudrun emulator listening on http://" cloudrun emulator --port 0 --jobs bench/jobs.json \
  --log-dir "$tmp/logs" --quiet
emu=$addr
echo
echo "== trigger: the caller's cost of one call (emulator on $emu)"
CLOUD_RUN_EMULATOR_HOST=$emu cloudrun-lua bench/trigger.lua "$N"
echo
echo "== fan-out: run_jobs on the multi driver against one trigger after another (emulator's delay fault)"
CLOUD_RUN_EMULATOR_HOST=$emu cloudrun-lua bench/fanout.lua "$([ "$QUICK" = 1 ] && echo 20 || echo 100)" 32
echo
echo "== auth: time to the first token per source, and a cached lookup (fake Google on $FAKE)"
FAKE_GOOGLE=$FAKE KEY_DIR=$tmp cloudrun-lua bench/auth.lua "$([ "$QUICK" = 1 ] && echo 1000 || echo 20000)"

echo
WAIT_N=$([ "$QUICK" = 1 ] && echo 40 || echo 1000)
echo "== wait_all: the requests to follow $WAIT_N executions (sleep 0-2 s each; a fresh emulator, --max-processes 200)"
mkdir -p "$tmp/logs-wait"
start emulator_w "cloudrun emulator listening on http://" cloudrun emulator --port 0 --log-dir "$tmp/logs-wait" \
  --max-processes 200 --quiet
CLOUD_RUN_EMULATOR_HOST=$addr cloudrun-lua bench/wait_all.lua "$WAIT_N"
stop "$last_pid"

echo
echo "== rate: triggers per minute under run_jobs' per_minute (the emulator on $emu sees them arrive)"
if [ "$QUICK" = 1 ]; then
  CLOUD_RUN_EMULATOR_HOST=$emu cloudrun-lua bench/rate.lua 20 1200 6000
else
  CLOUD_RUN_EMULATOR_HOST=$emu cloudrun-lua bench/rate.lua 120 600 6000
fi

# ---- the soak: does the emulator stay flat? (the full run only; CI runs its own 20 s) ----
[ "$QUICK" = 1 ] && exit 0
echo
echo "== soak: the emulator under a steady load for ${SOAK_SECONDS:-60} s (bench/soak.c)"
[ -x "$BUILD/bench/cr-soak" ] || cmake --build "$BUILD" --target cr-soak >/dev/null || die "no $BUILD/bench/cr-soak"
"$BUILD/bench/cr-soak" "$BUILD/src/emulator/cloudrun-emulator" --seconds "${SOAK_SECONDS:-60}" --window "${SOAK_WINDOW:-10}"
