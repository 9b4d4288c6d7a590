-- A development rockspec: `luarocks make rockspec/lua-cloudrun-scm-1.rockspec`
-- in a checkout builds and installs the working tree. lua-cloudrun has no
-- published source archive yet, so there is nothing for `luarocks install` or
-- `luarocks build` to fetch, and source.url says so instead of naming a place.
--
-- It builds for the Lua that luarocks runs for (--lua-version):
--   luarocks --lua-version 5.4 make rockspec/lua-cloudrun-scm-1.rockspec
--   luarocks --lua-version 5.1 make rockspec/lua-cloudrun-scm-1.rockspec LUA_INCDIR=/usr/include/luajit-2.1
-- (the second is for LuaJIT; a 5.1 module built against either 5.1's or
-- LuaJIT's headers loads into both).
rockspec_format = "3.0"
package = "lua-cloudrun"
version = "scm-1"
source = {
  url = "luarocks-make-only://lua-cloudrun-has-no-published-source",
}
description = {
  summary = "Trigger and follow Google Cloud Run Jobs from Lua",
  detailed = [[
A C core for Google credentials (service-account JWT, metadata server, ADC) and
the Cloud Run Admin API v2, with a Lua face: cloudrun.client{...}:run_job(job,
{args=, env=, task_count=, timeout=}) and client:wait(op). Lua 5.1, 5.2, 5.3,
5.4 and LuaJIT 2.1. Installs the `cloudrun` command (without `cloudrun
emulator`, which needs libmicrohttpd and comes with the CMake build).
]],
  license = "MIT",
  labels = { "google", "cloud", "cloudrun", "gcp" },
}
dependencies = {
  "lua >= 5.1, < 5.5",
}
external_dependencies = {
  CJSON = { header = "cjson/cJSON.h", library = "cjson" },
  CURL = { library = "curl" }, -- Debian keeps curl/curl.h under a multiarch include dir
  OPENSSL = { header = "openssl/evp.h", library = "crypto" },
  YAML = { header = "yaml.h", library = "yaml" },
}
-- LuaRocks itself refuses a LUA_INCDIR whose lua.h is another Lua's. This
-- check runs after the install and catches what gets past that (headers found
-- through CFLAGS, a Lua that cannot load the result): the module must load
-- into the Lua of this tree ($(LUA)) and be built against that Lua's headers
-- (its .so names them), or the install fails — LuaRocks then removes it —
-- with a message naming both and how to choose.
hooks = {
  post_install = [==[
if [ ! -x "$(LUA)" ]; then echo "lua-cloudrun: $(LUA) not found: the installed module was not test-loaded"; exit 0; fi
"$(LUA)" -e 'local prefix, incdir = [=[$(PREFIX)]=], [=[$(LUA_INCDIR)]=]
local tree, v = prefix:match("^(.*)/lib/luarocks/rocks%-([^/]+)/")
local f = tree and io.open(tree .. "/lib/lua/" .. v .. "/cloudrun/core.so", "rb")
if not f then print("lua-cloudrun: not a standard tree: the installed module was not test-loaded") return end
local built = f:read("*a"):match("lua%-cloudrun built against ([%w%p ]+)") or "unknown headers"
f:close()
package.path = tree .. "/share/lua/" .. v .. "/?.lua;" .. tree .. "/share/lua/" .. v .. "/?/init.lua;" .. package.path
package.cpath = tree .. "/lib/lua/" .. v .. "/?.so;" .. package.cpath
local running = jit and jit.version or _VERSION
local ok, err = pcall(require, "cloudrun")
if ok and (built:match("^Lua (%d+%.%d+)") or built:match("^LuaJIT") and "5.1") ~= _VERSION:match("%d+%.%d+") then
  ok, err = false, "its headers are not those of " .. _VERSION
end
if ok then print("lua-cloudrun: cloudrun.core, built against " .. built .. ", loads in " .. running) return end
io.stderr:write("lua-cloudrun: the module was built against " .. built .. ", but $(LUA) (" .. running
  .. ") cannot use it:\n  " .. tostring(err) .. "\nLUA_INCDIR was " .. incdir .. ". Build for the Lua you use with"
  .. " luarocks --lua-version X.Y, giving its headers with LUA_INCDIR=DIR when luarocks does not find them:\n"
  .. "  luarocks --lua-version 5.4 make rockspec/lua-cloudrun-scm-1.rockspec\n"
  .. "  luarocks --lua-version 5.1 make rockspec/lua-cloudrun-scm-1.rockspec LUA_INCDIR=/usr/include/luajit-2.1\n")
os.exit(1)'
]==],
}
build = {
  type = "builtin",
  install = {
    bin = { cloudrun = "src/host/cloudrun.lua" },
  },
  modules = {
    ["cloudrun"] = "lua/cloudrun/init.lua",
    ["cloudrun.auth"] = "lua/cloudrun/auth.lua",
    ["cloudrun.wait"] = "lua/cloudrun/wait.lua",
    ["cloudrun.rate"] = "lua/cloudrun/rate.lua",
    ["cloudrun.idempotency"] = "lua/cloudrun/idempotency.lua",
    ["cloudrun.filter"] = "lua/cloudrun/filter.lua",
    ["cloudrun.fields"] = "lua/cloudrun/fields.lua",
    ["cloudrun.regex"] = "lua/cloudrun/regex.lua",
    ["cloudrun.ngx"] = "lua/cloudrun/ngx.lua",
    ["cloudrun.ngx_http"] = "lua/cloudrun/ngx_http.lua",
    ["cloudrun.cli"] = "lua/cloudrun/cli/init.lua",
    ["cloudrun.cli.common"] = "lua/cloudrun/cli/common.lua",
    ["cloudrun.cli.format"] = "lua/cloudrun/cli/format.lua",
    ["cloudrun.cli.flag_groups"] = "lua/cloudrun/cli/flag_groups.lua",
    ["cloudrun.cli.list"] = "lua/cloudrun/cli/list.lua",
    ["cloudrun.cli.spec"] = "lua/cloudrun/cli/spec.lua",
    ["cloudrun.cli.spec_job"] = "lua/cloudrun/cli/spec_job.lua",
    ["cloudrun.cli.spec_volumes"] = "lua/cloudrun/cli/spec_volumes.lua",
    ["cloudrun.cli.progress"] = "lua/cloudrun/cli/progress.lua",
    ["cloudrun.cli.execute"] = "lua/cloudrun/cli/execute.lua",
    ["cloudrun.cli.jobs"] = "lua/cloudrun/cli/jobs.lua",
    ["cloudrun.cli.executions"] = "lua/cloudrun/cli/executions.lua",
    ["cloudrun.cli.auth"] = "lua/cloudrun/cli/auth.lua",
    ["cloudrun.cli.logs"] = "lua/cloudrun/cli/logs.lua",
    ["cloudrun.cli.man"] = "lua/cloudrun/cli/man.lua",
    ["cloudrun.iam"] = "lua/cloudrun/iam.lua",
    ["cloudrun.cli.iam"] = "lua/cloudrun/cli/iam.lua",
    ["cloudrun.core"] = {
      sources = {
        "src/lua/largs.c",
        "src/lua/lclient.c",
        "src/lua/lcloudrun.c",
        "src/lua/lcredentials.c",
        "src/lua/ljson.c",
        "src/lua/lmachine.c",
        "src/lua/lpacer.c",
        "src/core/api/call.c",
        "src/core/api/client.c",
        "src/core/api/discovery.c",
        "src/core/api/encode.c",
        "src/core/api/gcloud_config.c",
        "src/core/api/hints.c",
        "src/core/api/methods.c",
        "src/core/api/names.c",
        "src/core/api/response.c",
        "src/core/api/retry.c",
        "src/core/api/run_job.c",
        "src/core/auth/adc.c",
        "src/core/auth/authorized_user.c",
        "src/core/auth/credentials.c",
        "src/core/auth/external_account.c",
        "src/core/auth/iam.c",
        "src/core/auth/impersonated.c",
        "src/core/auth/jwt.c",
        "src/core/auth/keyfile.c",
        "src/core/auth/loader.c",
        "src/core/auth/metadata.c",
        "src/core/auth/rsa_pem.c",
        "src/core/auth/service_account.c",
        "src/core/auth/token.c",
        "src/core/auth/token_exchange.c",
        "src/core/drivers/blocking.c",
        "src/core/drivers/curl_easy.c",
        "src/core/drivers/curl_exchange.c",
        "src/core/drivers/curl_multi.c",
        "src/core/drivers/sync_auth.c",
        "src/core/drivers/token_file.c",
        "src/core/drivers/token_store.c",
        "src/core/http/http.c",
        "src/core/machine/exchange.c",
        "src/core/machine/machine.c",
        "src/core/util/duration.c",
        "src/core/util/dynlib.c",
        "src/core/util/error.c",
        "src/core/util/json.c",
        "src/core/util/json_walk.c",
        "src/core/util/rfc3339.c",
        "src/core/util/sha256.c",
        "src/core/util/util.c",
        "src/core/util/yaml.c",
        "src/core/util/yaml_lib.c",
      },
      defines = { "_POSIX_C_SOURCE=200809L" },
      incdirs = { "src/core/include", "src/core", "$(CJSON_INCDIR)", "$(OPENSSL_INCDIR)", "$(YAML_INCDIR)" },
      libdirs = { "$(CJSON_LIBDIR)", "$(CURL_LIBDIR)", "$(OPENSSL_LIBDIR)", "$(YAML_LIBDIR)" },
      libraries = { "cjson", "curl", "crypto", "pthread", "dl", "m" }, -- libyaml: dlopen at its first use
    },
  },
}
