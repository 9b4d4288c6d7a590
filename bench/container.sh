#!/usr/bin/env bash
# bench/container.sh — what one task costs per runtime of the emulator (issue 20),
# one execution at a time, beside the floor each runtime cannot beat:
#   process  `cloudrun emulator --runtime process`, the job's command `true` on the host;
#            floor: spawn-and-wait of /bin/true (bench/measure.c)
#   podman   `--runtime podman`, the same job in a busybox image built here FROM scratch;
#            floor: `podman run --rm IMAGE true`
#   docker   `--runtime docker`, where a docker CLI is on $PATH: there is no Docker engine
#            here, so the CLI talks to podman's Docker-compatible API (`podman system
#            service` on a socket of this run, DOCKER_HOST pointing at it);
#            floor: `docker run --rm IMAGE true` through the same socket
# An execution is client:run_job then client:wait (bench/container.lua, cloudrun-lua,
# cloudrun.core.monotonic), against one emulator per runtime started with --port 0.
# Rounds are interleaved: in each, every runtime in turn (the first one rotating) takes
# half its floor runs, its executions, then the other half, so that other work on the
# machine weighs on them all alike. The table: median and p90 per execution, the
# emulator's own span (createTime to completionTime), the floor's median and p90, the
# ratio execution/floor and the ratio to the process runtime. See bench/README.md.
#
#   bench/container.sh [BUILD_DIR]            full run (make bench-container)
#   BENCH_QUICK=1 bench/container.sh [BUILD]  a smoke test: one round of 2 a runtime
# Environment: BENCH_ROUNDS (5; quick 1), BENCH_PER_ROUND (executions a runtime a round:
#   6; quick 2), BENCH_POLL (client:wait's interval, 0.002 s), BENCH_DOCKER=0 to leave
#   docker out, BENCH_PODMAN=0 to leave both container runtimes out, CONTAINERS_CONF
#   (default: tests/containers/containers.conf if there, else one written here with runc
#   and explicit ulimits), BENCH_BUSYBOX (a static busybox: /bin/busybox).
# Needs: a build (make build), cc; podman (Debian: podman runc) and a static busybox
# (busybox-static) for the container runtimes. The image (localhost/cloudrun-bench-busybox)
# is kept in podman's store; every emulator, container and the podman service this run
# started are gone when it ends, however it ends (short of SIGKILL: then the next
# emulator's start-up sweep removes what a dead emulator left).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
BUILD=$(cd "${1:-build}" && pwd)
QUICK=${BENCH_QUICK:-0}
PATH="$BUILD/bin:$PATH"
export PATH
unset CLOUD_RUN_EMULATOR_HOST CLOUDSDK_API_ENDPOINT_OVERRIDES_RUN GOOGLE_APPLICATION_CREDENTIALS DOCKER_HOST

if [ "$QUICK" = 1 ]; then
  ROUNDS=${BENCH_ROUNDS:-1} K=${BENCH_PER_ROUND:-2}
else
  ROUNDS=${BENCH_ROUNDS:-5} K=${BENCH_PER_ROUND:-6}
fi
IMAGE=localhost/cloudrun-bench-busybox:latest
BUSYBOX=${BENCH_BUSYBOX:-/bin/busybox}
TAG=lua-cloudrun.bench=$$ # on this run's own floor containers, for the clean-up

say() { echo "bench: $*" >&2; }
die() { say "$*"; exit 1; }

tmp=$(mktemp -d)
emulators="" service="" podman_ok=0
cleanup() {
  set +e
  local p ids
  for p in $emulators; do kill "$p" 2>/dev/null; done
  for p in $emulators; do wait "$p" 2>/dev/null; done
  if [ "$podman_ok" = 1 ]; then
    # whatever the emulators (docker's too: the service keeps them in podman's store)
    # or the floors left, should a run have been cut short
    # shellcheck disable=SC2086 # $ids: container ids, one a word
    for p in $emulators; do
      ids=$(podman ps -a -q --filter "label=lua-cloudrun.emulator.pid=$p" 2>/dev/null)
      [ -n "$ids" ] && podman rm -f -t 0 $ids >/dev/null 2>&1
    done
    ids=$(podman ps -a -q --filter "label=$TAG" 2>/dev/null)
    # shellcheck disable=SC2086
    [ -n "$ids" ] && podman rm -f -t 0 $ids >/dev/null 2>&1
  fi
  if [ -n "$service" ]; then
    kill "$service" 2>/dev/null
    wait "$service" 2>/dev/null
  fi
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP

# ---- the programs ------------------------------------------------------------------
for t in cloudrun cloudrun-lua; do
  [ -x "$BUILD/bin/$t" ] || die "no $BUILD/bin/$t (build the project first: make build)"
done
MEASURE=$BUILD/bench/measure
if [ ! -x "$MEASURE" ] || [ bench/measure.c -nt "$MEASURE" ]; then
  mkdir -p "$BUILD/bench"
  ${CC:-cc} -O2 -g -std=gnu11 -Wall -Wextra -o "$MEASURE" bench/measure.c || die "could not build bench/measure.c"
fi

# ---- the runtimes ------------------------------------------------------------------
RUNTIMES=process
notes=()
if [ "${BENCH_PODMAN:-1}" = 0 ]; then
  say "BENCH_PODMAN=0: the container runtimes left out"
  notes+=("podman, docker: left out (BENCH_PODMAN=0)")
elif ! command -v podman >/dev/null 2>&1; then
  say "no podman (Debian: apt-get install podman runc busybox-static): the container runtimes left out"
  notes+=("podman, docker: left out (no podman on this machine)")
else
  if [ -z "${CONTAINERS_CONF:-}" ]; then
    if [ -f tests/containers/containers.conf ]; then
      CONTAINERS_CONF=$ROOT/tests/containers/containers.conf
    else
      CONTAINERS_CONF=$tmp/containers.conf
      printf '%s\n' '[containers]' 'default_ulimits = ["nofile=1024:1024", "nproc=4096:4096"]' \
        '[engine]' 'runtime = "runc"' >"$CONTAINERS_CONF"
    fi
  fi
  export CONTAINERS_CONF
  podman ps -q >/dev/null 2>"$tmp/podman.err" || { cat "$tmp/podman.err" >&2; die "podman does not answer"; }
  podman_ok=1
  [ -x "$BUSYBOX" ] || die "no $BUSYBOX (Debian: apt-get install busybox-static)"
  if ldd "$BUSYBOX" >/dev/null 2>&1; then
    die "$BUSYBOX is linked dynamically: a static one is needed in an image FROM scratch (Debian: busybox-static)"
  fi
  mkdir "$tmp/image"
  cp "$BUSYBOX" "$tmp/image/busybox"
  printf '%s\n' 'FROM scratch' 'COPY busybox /bin/busybox' 'RUN ["/bin/busybox","--install","-s","/bin"]' \
    >"$tmp/image/Containerfile"
  podman build -q -t "$IMAGE" "$tmp/image" >/dev/null 2>"$tmp/build.err" ||
    { cat "$tmp/build.err" >&2; die "could not build $IMAGE"; }
  RUNTIMES="$RUNTIMES podman"
  if [ "${BENCH_DOCKER:-1}" = 0 ]; then
    say "BENCH_DOCKER=0: docker left out"
    notes+=("docker: left out (BENCH_DOCKER=0)")
  elif ! command -v docker >/dev/null 2>&1; then
    notes+=("docker: left out (no docker CLI on this machine)")
  else
    SOCK=$tmp/docker.sock
    podman system service --time=0 "unix://$SOCK" >"$tmp/service.out" 2>"$tmp/service.err" &
    service=$!
    for _ in $(seq 1 100); do
      DOCKER_HOST=unix://$SOCK docker version --format '{{.Server.Version}}' >"$tmp/docker.version" 2>/dev/null && break
      sleep 0.1
    done
    [ -s "$tmp/docker.version" ] || { cat "$tmp/service.err" >&2; die "podman system service did not answer on $SOCK"; }
    DOCKER_HOST=unix://$SOCK docker image inspect "$IMAGE" >/dev/null 2>&1 || die "docker does not see $IMAGE"
    RUNTIMES="$RUNTIMES docker"
    notes+=("docker: the docker CLI ($(docker --version | sed 's/^Docker version //')) against podman's Docker-compatible API (podman $(cat "$tmp/docker.version")): \`podman system service --time=0 unix://SOCK\`, DOCKER_HOST=unix://SOCK. There is no Docker engine on this machine, so this is docker's CLI in front of podman, not dockerd.")
  fi
fi

# rt_env RUNTIME COMMAND... — COMMAND in the environment of RUNTIME's emulator and floor
# (through env(1), so that a command put in the background is the process $! names)
rt_env() {
  local rt=$1
  shift
  if [ "$rt" = docker ]; then exec env DOCKER_HOST="unix://$SOCK" "$@"; else exec "$@"; fi
}

floor_cmd() { # RUNTIME -> the floor's argv in $floor
  case $1 in
    process) floor=(/bin/true) ;;
    *) floor=("$1" run --rm --label "$TAG" "$IMAGE" true) ;;
  esac
}
export BENCH_FLOOR_process="spawn-and-wait /bin/true"
export BENCH_FLOOR_podman="podman run --rm IMAGE true"
export BENCH_FLOOR_docker="docker run --rm IMAGE true"
export BENCH_RUNTIMES=$RUNTIMES

# ---- the emulators -----------------------------------------------------------------
# One job for all: the process runtime runs its command on the host and only records the image.
cat >"$tmp/jobs.json" <<EOF
{"jobs": [{"name": "projects/bench/locations/local/jobs/noop",
           "template": {"template": {"maxRetries": 0, "containers": [{"image": "$IMAGE", "command": ["true"]}]}}}]}
EOF
declare -A host
for rt in $RUNTIMES; do
  mkdir "$tmp/logs-$rt"
  : >"$tmp/emulator-$rt.out"
  args=(--port 0 --jobs "$tmp/jobs.json" --log-dir "$tmp/logs-$rt" --quiet --runtime "$rt")
  [ "$rt" = process ] || args+=(--pull never) # the image is here: no registry is asked
  (rt_env "$rt" cloudrun emulator "${args[@]}") >"$tmp/emulator-$rt.out" 2>"$tmp/emulator-$rt.err" &
  emulators="$emulators $!"
  for _ in $(seq 1 200); do
    host[$rt]=$(sed -n 's|^cloudrun emulator listening on http://||p' "$tmp/emulator-$rt.out" | head -n 1)
    [ -n "${host[$rt]}" ] && break
    kill -0 "$!" 2>/dev/null || break
    sleep 0.05
  done
  [ -n "${host[$rt]}" ] || { cat "$tmp/emulator-$rt.err" >&2; die "the $rt emulator did not start"; }
done

# ---- measuring ---------------------------------------------------------------------
RES=$tmp/results.jsonl
: >"$RES"

# floor RUNTIME ROUND COUNT — COUNT runs of the floor, one measure process each (its
# wall: posix_spawnp to wait4 on CLOCK_MONOTONIC, the child's stdout to /dev/null)
floor() {
  local rt=$1 round=$2 i out us
  floor_cmd "$rt"
  for ((i = 0; i < $3; i++)); do
    out=$(rt_env "$rt" "$MEASURE" -n 1 -- "${floor[@]}" 2>"$tmp/measure.err") ||
      { cat "$tmp/measure.err" >&2; die "the $rt floor failed: ${floor[*]}"; }
    us=$(printf '%s\n' "$out" | sed -n 's/.*"wall_us":\([0-9.]*\).*/\1/p')
    [ -n "$us" ] || die "measure said: $out"
    awk -v rt="$rt" -v round="$round" -v us="$us" \
      'BEGIN { printf "{\"rt\":\"%s\",\"round\":%d,\"kind\":\"floor\",\"ms\":%.3f}\n", rt, round, us / 1000 }' >>"$RES"
  done
}

# executions RUNTIME ROUND COUNT
executions() {
  CLOUD_RUN_EMULATOR_HOST=${host[$1]} cloudrun-lua bench/container.lua run "$1" "$2" "$3" >>"$RES" 2>"$tmp/lua.err" ||
    { cat "$tmp/lua.err" >&2; sed 's/^/emulator: /' "$tmp/emulator-$1.err" >&2; die "the $1 executions failed"; }
}

read -r -a order <<<"$RUNTIMES"
say "runtimes: $RUNTIMES; $ROUNDS round(s) of $K execution(s) and $K floor run(s) a runtime"
# one of each first, not counted: the first container of an image, the first connection
for rt in "${order[@]}"; do
  floor "$rt" 0 1
  executions "$rt" 0 1
done
: >"$RES"
load0=$(cut -d' ' -f1-3 /proc/loadavg)
t0=$(date +%s)
for ((round = 1; round <= ROUNDS; round++)); do
  say "round $round of $ROUNDS"
  for ((j = 0; j < ${#order[@]}; j++)); do
    rt=${order[$(((j + round - 1) % ${#order[@]}))]}
    floor "$rt" "$round" $((K / 2))
    executions "$rt" "$round" "$K"
    floor "$rt" "$round" $((K - K / 2))
  done
done
load1=$(cut -d' ' -f1-3 /proc/loadavg)

echo
echo "== container: what one task costs per runtime, one execution at a time ($ROUNDS round(s) x $K a runtime, interleaved; $(nproc) CPUs, load $load0 -> $load1, $(($(date +%s) - t0)) s)"
cloudrun-lua bench/container.lua report "$RES"
echo
echo "execution: client:run_job + client:wait (polling GetExecution every ${BENCH_POLL:-0.002} s) of a job whose command is"
echo "  [\"true\"], one at a time, cloudrun.core.monotonic; emu span: the execution's createTime to completionTime"
echo "  (the emulator's clock: no RunJob call, no polling); to start: createTime to startTime (a container runtime"
echo "  looks the image up first); floor: bench/measure.c, posix_spawnp to wait4, a process per run;"
echo "  IMAGE: $IMAGE (Debian's static busybox, FROM scratch); container emulators with --pull never"
[ "$podman_ok" = 1 ] && echo "podman: $(podman --version | sed 's/^podman version //'), CONTAINERS_CONF=$CONTAINERS_CONF"
for n in "${notes[@]}"; do echo "$n"; done
