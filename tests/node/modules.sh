#!/bin/sh
# Makes sure the pinned npm packages (package-lock.json) are in this
# directory's node_modules: installs them with `npm ci` when they are missing
# or stale, one build tree at a time (flock). For run.sh, and for the Lua specs
# that hold request bodies to Google's protos with proto_check.js.
# Exit 0 when they are there; 77 (CTest's skip) when node or npm is absent or
# the install failed (offline), unless CR_REQUIRE_NODE_TESTS=1 makes that 1.
set -u
here=$(cd "$(dirname "$0")" && pwd)
who=${1:-node}

if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  echo "$who: node and npm are needed (Debian: apt-get install nodejs npm); skipped"
  exit 77
fi

installed() {
  [ -f "$here/node_modules/@google-cloud/run/package.json" ] &&
    [ -f "$here/node_modules/.package-lock.json" ] &&
    [ ! "$here/package-lock.json" -nt "$here/node_modules/.package-lock.json" ]
}

# Two build trees may get here at once: one installs, the other waits.
if command -v flock >/dev/null 2>&1; then
  exec 9>"$here/node_modules.lock"
  flock 9
fi
if ! installed; then
  echo "$who: npm ci in $here"
  if ! (cd "$here" && npm ci --no-audit --no-fund --loglevel=error); then
    if [ "${CR_REQUIRE_NODE_TESTS:-0}" = 1 ]; then
      echo "$who: npm ci failed" >&2
      exit 1
    fi
    echo "$who: npm ci failed (offline?); skipped. Set CR_REQUIRE_NODE_TESTS=1 to make this a failure."
    exit 77
  fi
fi
exit 0
