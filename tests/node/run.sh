#!/bin/sh
# Runs Node tests against the emulator: makes sure the pinned npm packages are
# installed (modules.sh: npm ci from package-lock.json when they are missing or
# stale), then `node --test` on the given test files (default
# google_client.test.js).
# Usage: run.sh /path/to/cloudrun-emulator [TEST.js...]
# Exit 77 (CTest's skip) when node or npm is absent, or when the packages
# cannot be installed (offline) unless CR_REQUIRE_NODE_TESTS=1.
set -u
here=$(cd "$(dirname "$0")" && pwd)
bin=${1:-${CLOUDRUN_EMULATOR_BIN:-}}
[ $# -gt 0 ] && shift
[ $# -gt 0 ] || set -- google_client.test.js

"$here/modules.sh" "node ($*)"
rc=$?
[ $rc -eq 0 ] || exit $rc
if [ -z "$bin" ] || [ ! -x "$bin" ]; then
  echo "node: no emulator program given (argument or CLOUDRUN_EMULATOR_BIN)" >&2
  exit 1
fi

cd "$here" && CLOUDRUN_EMULATOR_BIN="$bin" exec node --test --test-concurrency=1 "$@"
