rockspec_format = "3.0"
package = "lua-cloudrun"
version = "scm-1"
source = {
  url = "git+file:///dev/null", -- installed from a checkout: luarocks make rockspec/lua-cloudrun-scm-1.rockspec
}
description = {
  summary = "Trigger and follow Google Cloud Run Jobs from Lua",
  detailed = [[
A C core for Google credentials (service-account JWT, metadata server, ADC) and
the Cloud Run Admin API v2, with a Lua face: cloudrun.client{...}:run_job(job,
{args=, env=, task_count=, timeout=}) and client:wait(op).
]],
  license = "MIT",
  labels = { "google", "cloud", "cloudrun", "gcp" },
}
dependencies = {
  "lua >= 5.1",
}
external_dependencies = {
  CJSON = { header = "cjson/cJSON.h", library = "cjson" },
  CURL = { library = "curl" }, -- Debian keeps curl/curl.h under a multiarch include dir
  OPENSSL = { header = "openssl/evp.h", library = "crypto" },
}
build = {
  type = "builtin",
  modules = {
    ["cloudrun"] = "lua/cloudrun/init.lua",
    ["cloudrun.auth"] = "lua/cloudrun/auth.lua",
    ["cloudrun.wait"] = "lua/cloudrun/wait.lua",
    ["cloudrun.cli"] = "lua/cloudrun/cli/init.lua",
    ["cloudrun.cli.common"] = "lua/cloudrun/cli/common.lua",
    ["cloudrun.cli.jobs"] = "lua/cloudrun/cli/jobs.lua",
    ["cloudrun.cli.executions"] = "lua/cloudrun/cli/executions.lua",
    ["cloudrun.cli.auth"] = "lua/cloudrun/cli/auth.lua",
    ["cloudrun.core"] = {
      sources = {
        "src/lua/lclient.c",
        "src/lua/lcloudrun.c",
        "src/lua/lcredentials.c",
        "src/lua/ljson.c",
        "src/lua/lmachine.c",
        "src/core/api/call.c",
        "src/core/api/client.c",
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
        "src/core/auth/metadata.c",
        "src/core/auth/service_account.c",
        "src/core/auth/token_exchange.c",
        "src/core/drivers/curl_easy.c",
        "src/core/drivers/curl_exchange.c",
        "src/core/drivers/curl_multi.c",
        "src/core/drivers/token_store.c",
        "src/core/http/http.c",
        "src/core/machine/machine.c",
        "src/core/machine/token.c",
        "src/core/util/duration.c",
        "src/core/util/error.c",
        "src/core/util/json.c",
        "src/core/util/util.c",
      },
      defines = { "_POSIX_C_SOURCE=200809L" },
      incdirs = { "src/core/include", "src/core", "$(CJSON_INCDIR)", "$(OPENSSL_INCDIR)" },
      libdirs = { "$(CJSON_LIBDIR)", "$(CURL_LIBDIR)", "$(OPENSSL_LIBDIR)" },
      libraries = { "cjson", "curl", "crypto", "pthread", "m" },
    },
  },
}
