#!/bin/sh
# Runs the nginx example against the local emulator, in the foreground:
# builds the module for nginx's LuaJIT if needed, starts `cloudrun emulator`
# with examples/jobs.json, then nginx with examples/openresty/nginx.conf.
#   examples/openresty/run.sh      (then: curl -i http://127.0.0.1:8080/job/42)
set -eu
cd "$(dirname "$0")/../.."
scripts/install-deps
if [ ! -f build-luajit/lua/cloudrun/core.so ] || [ ! -x build/bin/cloudrun ]; then
  cmake -S . -B build >/dev/null && cmake --build build -j "$(nproc)" --target cloudrun-cli cloudrun-lua >/dev/null
  cmake -S . -B build-luajit -DCR_LUA_VERSION=luajit -DCR_TEST_AREAS=lua >/dev/null
  cmake --build build-luajit -j "$(nproc)" --target cloudrun_lua_module >/dev/null
fi
PATH="$(pwd)/build/bin:$PATH"
export PATH
mkdir -p examples/openresty/logs
out=$(mktemp)
build/bin/cloudrun emulator --port 0 --jobs examples/jobs.json --quiet >"$out" &
emulator=$!
trap 'kill $emulator 2>/dev/null; rm -f "$out"' EXIT INT TERM
for _ in $(seq 1 100); do grep -q listening "$out" && break; sleep 0.05; done
CLOUD_RUN_EMULATOR_HOST=$(sed -n 's|^cloudrun emulator listening on http://||p' "$out")
export CLOUD_RUN_EMULATOR_HOST GOOGLE_CLOUD_PROJECT=demo-project CLOUDSDK_RUN_REGION=us-central1
echo "emulator on $CLOUD_RUN_EMULATOR_HOST; nginx on http://127.0.0.1:8080 (Ctrl-C stops both)"
echo "  curl -i http://127.0.0.1:8080/job/42"
echo "  curl -i -X POST http://127.0.0.1:8080/jobs/report:run -H 'Content-Type: application/json' \\"
echo "       -d '{\"args\": [\"manage.py\", \"job\", \"--id=7\"], \"env\": {\"ID\": \"7\"}}'"
# Workers run as this user (started as root, nginx would make them "nobody", who may not
# read a checkout under a private directory such as /root).
/usr/sbin/nginx -p "$(pwd)/examples/openresty/" -c nginx.conf -g "user $(id -un);"
