#!/bin/sh
# Runs the Node client tests against the emulator: installs the pinned npm
# packages into this directory's node_modules when they are missing or stale
# (npm ci, from package-lock.json), then `node --test`.
# Usage: run.sh /path/to/cloudrun-emulator
# Exit 77 (CTest's skip) when node or npm is absent, or when the packages
# cannot be installed (offline) unless CR_REQUIRE_NODE_TESTS=1.
set -u
here=$(cd "$(dirname "$0")" && pwd)
bin=${1:-${CLOUDRUN_EMULATOR_BIN:-}}

if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  echo "node.google_client: node and npm are needed (Debian: apt-get install nodejs npm); skipped"
  exit 77
fi
if [ -z "$bin" ] || [ ! -x "$bin" ]; then
  echo "node.google_client: no emulator program given (argument or CLOUDRUN_EMULATOR_BIN)" >&2
  exit 1
fi

install() {
  if [ -f "$here/node_modules/@google-cloud/run/package.json" ] &&
     [ -f "$here/node_modules/.package-lock.json" ] &&
     [ ! "$here/package-lock.json" -nt "$here/node_modules/.package-lock.json" ]; then
    return 0
  fi
  echo "node.google_client: npm ci in $here"
  (cd "$here" && npm ci --no-audit --no-fund --loglevel=error)
}

# Two build trees may run this at once: one installs, the other waits.
if command -v flock >/dev/null 2>&1; then
  exec 9>"$here/node_modules.lock"
  flock 9
fi
if ! install; then
  if [ "${CR_REQUIRE_NODE_TESTS:-0}" = 1 ]; then
    echo "node.google_client: npm ci failed" >&2
    exit 1
  fi
  echo "node.google_client: npm ci failed (offline?); skipped. Set CR_REQUIRE_NODE_TESTS=1 to make this a failure."
  exit 77
fi
if command -v flock >/dev/null 2>&1; then
  exec 9>&-
fi

cd "$here" && CLOUDRUN_EMULATOR_BIN="$bin" exec node --test --test-concurrency=1 google_client.test.js
