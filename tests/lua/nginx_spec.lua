-- require("cloudrun") inside Debian's nginx with its Lua module (OpenResty's
-- LuaJIT branch), against the emulator on loopback: nginx runs as a
-- subprocess with a config of its own in a temporary directory, and curl asks
-- it. What this shows is that the module loads and works there (on cosockets;
-- openresty_spec.lua shows that they do not block the worker, and the rest).
-- Needs the LuaJIT build's cloudrun/core.so: CMake registers it in that build.
local h = require("helpers")
local harness = require("nginx_harness")

local LOCATIONS = [[
    location = /job {
      content_by_lua_block {
        local cloudrun = require("cloudrun")
        local client = assert(cloudrun.client{ project = "test-project", region = "us-central1",
                                               endpoint = "http://%s", credentials = false })
        local job, err = client:get_job("hello")
        if not job then ngx.status = 502 ngx.say(tostring(err)) return end
        ngx.say(job.name, " | ", jit.version, " | ngx_lua ", ngx.config.ngx_lua_version)
      }
    }
    location = /run {
      content_by_lua_block {
        local client = assert(require("cloudrun").client{ project = "test-project", region = "us-central1",
                                                          endpoint = "http://%s", credentials = false })
        local op, err = client:run_job("hello", { args = { "from-nginx" } })
        if not op then ngx.status = 502 ngx.say(tostring(err)) return end
        local e, werr = client:wait(op, { timeout = 30 })  -- waits with ngx.sleep between polls
        if not e then ngx.status = 502 ngx.say(tostring(werr)) return end
        ngx.say("succeeded ", e.succeededCount)
      }
    }
    location = /unreachable {
      content_by_lua_block {
        local client = assert(require("cloudrun").client{ project = "p", region = "r",
                                                          endpoint = "http://127.0.0.1:9", credentials = false })
        local op, err = client:run_job("j", { retry = { attempts = 1 } })
        ngx.say(err.code)
      }
    }
]]

local get = harness.get

describe("require('cloudrun') inside nginx (libnginx-mod-http-lua)", function()
  local emu, dir, nginx

  setup(function()
    emu = h.emulator{ jobs = { h.sh_job("hello", 'echo "hello $*"') } }
    dir = h.tmpdir()
    nginx = harness.start(dir, LOCATIONS:format(emu.host, emu.host))
  end)

  teardown(function()
    if nginx then nginx.stop() end
    if emu then emu.stop() end
    if dir then os.execute("rm -rf " .. h.sh_quote(dir)) end
  end)

  it("loads the module into nginx's LuaJIT and gets a job from the emulator", function()
    local out = get(nginx.port, "/job")
    assert.matches("^projects/test%-project/locations/us%-central1/jobs/hello | LuaJIT 2%.1[^\n]* | ngx_lua %d+\n\n200$", out)
  end)

  it("runs a job and waits for its execution there", function()
    local out = get(nginx.port, "/run")
    assert.are.equal("succeeded 1\n\n200", out)
  end)

  it("returns nil, err for an endpoint that does not answer", function()
    local out = get(nginx.port, "/unreachable")
    assert.are.equal("UNAVAILABLE\n\n200", out)
  end)

  it("leaves no Lua error in nginx's log", function()
    local log = h.read(dir .. "/error.log") or ""
    assert.is_nil(log:find("[error]", 1, true), log)
  end)
end)
