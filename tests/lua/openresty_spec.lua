-- The nginx driver in real nginx (Debian's nginx with its Lua module): calls
-- on cosockets that never block the worker, one token for all workers
-- through a lua_shared_dict, the retry and never-resend rules on this driver,
-- TLS through an intermediate to a test CA and a name through nginx's
-- resolver (dnsmasq on loopback), the phase error, and the example handler
-- (examples/openresty/) answering the original story. Registered in the
-- LuaJIT build, whose cloudrun/core.so nginx loads.
local h = require("helpers")
local json = require("cloudrun").json

local NGINX = assert(os.getenv("CR_NGINX"), "CR_NGINX: the nginx binary")
local MODULES = assert(os.getenv("CR_NGINX_MODULES"), "CR_NGINX_MODULES: nginx's module directory")
local SRC = assert(os.getenv("CLOUDRUN_SOURCE_DIR"))
local CPATH = assert(os.getenv("LUA_CPATH"), "LUA_CPATH: the build's lua/?.so")
local FAKE = assert(os.getenv("CR_FAKE_GOOGLE"), "CR_FAKE_GOOGLE: the cr-fake-google binary")
local HOSTILE = assert(os.getenv("CR_HOSTILE"), "CR_HOSTILE: the cr-hostile binary")
local DNSMASQ = os.getenv("CR_DNSMASQ") or "/usr/sbin/dnsmasq"

math.randomseed(os.time() + tonumber((h.run("echo $$"))))

local function random_port()
  return math.random(20000, 59999)
end

local function sh(cmd)
  local out, rc = h.run(cmd)
  assert(rc == 0, cmd .. "\n" .. out)
  return out
end

-- ---- certificates: a root CA, an intermediate, a leaf for api.cloudrun.test; and a stranger CA
local function make_certs(dir)
  sh(("cd %s && "
    .. "openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem -days 2 -subj /CN=test-root "
    .. "-addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign 2>&1 && "
    .. "openssl req -newkey rsa:2048 -nodes -keyout int.key -out int.csr -subj /CN=test-intermediate 2>&1 && "
    .. "printf 'basicConstraints=critical,CA:TRUE,pathlen:0\\nkeyUsage=critical,keyCertSign,cRLSign\\n' > int.ext && "
    .. "openssl x509 -req -in int.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out int.pem -days 2 "
    .. "-extfile int.ext 2>&1 && "
    .. "openssl req -newkey rsa:2048 -nodes -keyout leaf.key -out leaf.csr -subj /CN=api.cloudrun.test 2>&1 && "
    .. "printf 'subjectAltName=DNS:api.cloudrun.test\\nextendedKeyUsage=serverAuth\\n' > leaf.ext && "
    .. "openssl x509 -req -in leaf.csr -CA int.pem -CAkey int.key -CAcreateserial -out leaf.pem -days 2 "
    .. "-extfile leaf.ext 2>&1 && cat leaf.pem int.pem > chain.pem && "
    .. "openssl req -x509 -newkey rsa:2048 -nodes -keyout other.key -out other-ca.pem -days 2 -subj /CN=stranger "
    .. "2>&1 && openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out sa.pem 2>&1 && "
    .. "openssl pkey -in sa.pem -pubout -out sa.pub 2>&1"):format(h.sh_quote(dir)))
end

local function key_file(dir, name, email, token_uri)
  local path = dir .. "/" .. name
  h.write(path, json.encode{
    type = "service_account", project_id = "key-project", private_key_id = "kid-1",
    private_key = assert(h.read(dir .. "/sa.pem")), client_email = email,
    client_id = "1", token_uri = token_uri,
  })
  return path
end

local function start_fake(dir, args)
  local s = h.spawn(("%s --port 0 --public-key %s %s"):format(h.sh_quote(FAKE), h.sh_quote(dir .. "/sa.pub"),
    args or ""), "^fake%-google listening on 127%.0%.0%.1:(%d+)$")
  return { port = s.match, stop = function() h.stop(s.pid, s.pipe) end }
end

local function start_dnsmasq(dir)
  for _ = 1, 10 do
    local port = random_port()
    local p = assert(io.popen(("echo $$; exec %s --no-daemon --no-resolv --no-hosts --port=%d --listen-address=127.0.0.1 "
      .. "--bind-interfaces --address=/api.cloudrun.test/127.0.0.1 --user=%s --pid-file= >%s/dns.log 2>&1"):format(
      DNSMASQ, port, (h.run("id -un"):gsub("%s+$", "")), dir)))
    local pid = p:read("*l")
    os.execute("sleep 0.2")
    if h.run("kill -0 " .. pid .. " 2>/dev/null && echo alive"):find("alive") then
      return { port = port, stop = function() h.stop(pid, p) end }
    end
    h.stop(pid, p)
  end
  error("dnsmasq did not start: " .. (h.read(dir .. "/dns.log") or ""))
end

-- An emulator on a port of our choosing (so that it can be started again on the same one).
local function start_emulator_on(dir, port, jobs_file)
  local s = h.spawn(("OUT=%s %s emulator --port %d --quiet --log-dir %s --jobs %s"):format(h.sh_quote(dir .. "/out"),
    h.sh_quote(h.bin .. "/cloudrun"), port, h.sh_quote(dir .. "/logs"), h.sh_quote(jobs_file)),
    "^cloudrun emulator listening on http://(.*)$")
  return { host = s.match, stop = function() h.stop(s.pid, s.pipe) end }
end

local CONF = [[
daemon off;
master_process on;
worker_processes {WORKERS};
user {USER};
pid {RUN}/nginx.pid;
error_log {RUN}/error.log notice;
env CLOUD_RUN_EMULATOR_HOST;
env GOOGLE_CLOUD_PROJECT;
env CLOUDSDK_RUN_REGION;
load_module {MODULES}/ndk_http_module.so;
load_module {MODULES}/ngx_http_lua_module.so;
events { worker_connections 1024; accept_mutex off; }
http {
  access_log off;
  client_body_temp_path {RUN}/body;
  proxy_temp_path {RUN}/proxy;
  fastcgi_temp_path {RUN}/fastcgi;
  uwsgi_temp_path {RUN}/uwsgi;
  scgi_temp_path {RUN}/scgi;
  lua_package_path "{SRC}/lua/?.lua;{SRC}/lua/?/init.lua;{SRC}/examples/openresty/?.lua;/usr/share/lua/5.1/?.lua;;";
  lua_package_cpath "{CPATH}";
  lua_shared_dict cloudrun 1m;
  lua_shared_dict test 1m;
  lua_socket_log_errors off;
  resolver 127.0.0.1:{DNS} ipv6=off;
  lua_ssl_verify_depth 3;

  init_worker_by_lua_block {
    local c = require("cloudrun").client{ project = "p", region = "r", endpoint = "http://{EMU}", credentials = false }
    local _, err = c:get_job("report")
    ngx.shared.test:set("init_worker", err and (err.code .. ": " .. err.message) or "no error")
  }

  server {
    listen 127.0.0.1:{PORT} reuseport;
    location = /ping { return 200 "ok\n"; }
    location / { return 404; }
    location ~ ^/job/(?<record>[0-9]+)$ { content_by_lua_block { require("handler").job("report", ngx.var.record) } }
    location = /init-worker { content_by_lua_block { ngx.say(ngx.shared.test:get("init_worker")) } }

    location = /get {
      content_by_lua_block {
        local c = require("cloudrun").client{ project = "test-project", region = "us-central1",
          endpoint = "http://{EMU}", credentials = false, retry = { initial = 0.05 } }
        local job, err = c:get_job("report")
        ngx.say(job and job.name or tostring(err))
      }
    }
    location ~ ^/job-unkeyed/(?<record>[0-9]+)$ {
      content_by_lua_block {
        local c = require("cloudrun").client{ shared_dict = "cloudrun" }
        local op, err = c:run_job("report", { args = { "manage.py", "job", "--id=" .. ngx.var.record } })
        ngx.say(op and op.execution or (err.code .. " sent=" .. tostring(err.sent)))
      }
    }
    location ~ ^/job-restart/(?<record>[0-9]+)$ {
      content_by_lua_block {
        local c = require("cloudrun").client{ project = "test-project", region = "us-central1",
          endpoint = "http://{EMU2}", credentials = false }
        local op, err = c:run_job("report", { args = { "manage.py", "job", "--id=" .. ngx.var.record } })
        ngx.say(op and op.execution or tostring(err))
      }
    }
    location = /get-restart {
      content_by_lua_block {
        local c = require("cloudrun").client{ project = "test-project", region = "us-central1",
          endpoint = "http://{EMU2}", credentials = false, retry = { initial = 0.05 } }
        local job, err = c:get_job("report")
        ngx.say(job and job.name or tostring(err))
      }
    }
    location = /slow-token {
      content_by_lua_block {
        local c = require("cloudrun").client{ project = "test-project", region = "us-central1",
          endpoint = "http://{EMU}", credentials = "{DIR}/slow.json", shared_dict = "cloudrun" }
        local op, err = c:run_job("report", { args = { "manage.py", "job", "--id=77" } })
        ngx.say(op and op.execution or tostring(err))
      }
    }
    location = /whoami {
      content_by_lua_block {
        local c = require("cloudrun").client{ project = "test-project", region = "us-central1",
          endpoint = "http://{EMU}", credentials = "{DIR}/shared.json", shared_dict = "cloudrun" }
        local job, err = c:get_job("report")
        ngx.say(ngx.worker.pid(), " ", job and job.name or tostring(err))
      }
    }
    location = /fan-out {
      content_by_lua_block {
        local cloudrun = require("cloudrun")
        local c = cloudrun.client{ project = "test-project", region = "us-central1", endpoint = "http://{EMU}",
          credentials = false }
        local list = {}
        for i = 1, 10 do list[i] = { job = i == 4 and "nosuch" or "report", args = { "manage.py", "job", "--id=" .. (500 + i) } } end
        local results, failed = c:run_jobs(list, { in_flight = 4 })
        local ok = 0
        for _, r in ipairs(results) do if not cloudrun.is_error(r) then ok = ok + 1 end end
        ngx.say(#results, " ", ok, " ", failed, " ", results[4].code)
      }
    }
    location = /tls-good {
      lua_ssl_trusted_certificate {DIR}/ca.pem;
      content_by_lua_block {
        local c = require("cloudrun").client{ project = "test-project", region = "us-central1",
          endpoint = "https://api.cloudrun.test:{TLS}", credentials = false }
        local job, err = c:get_job("report")
        ngx.say(job and job.name or tostring(err))
      }
    }
    location = /tls-bad {
      lua_ssl_trusted_certificate {DIR}/other-ca.pem;
      content_by_lua_block {
        local c = require("cloudrun").client{ project = "test-project", region = "us-central1",
          endpoint = "https://api.cloudrun.test:{TLS}", credentials = false }
        local job, err = c:get_job("report")
        ngx.say(job and job.name or (err.code .. " " .. err.message))
      }
    }
    location ~ ^/hostile/(?<mode>[a-z-]+)$ {
      content_by_lua_block {
        local cloudrun = require("cloudrun")
        local c = cloudrun.client{ project = "p", region = "r", endpoint = "http://{HOSTILE}", retry = { attempts = 3 },
          credentials = cloudrun.auth.access_token("ya29.NGINX-SECRET-TOKEN-0123456789abcdef") }
        local job, err = c:get_job(ngx.var.mode)
        collectgarbage()
        ngx.say(job and "resource" or err.code, " ", job and 0 or #err.message, " ",
          (not job and err.message:find("NGINX-SECRET", 1, true)) and "LEAK" or "clean")
      }
    }
    location ~ ^/malformed/(?<mode>[a-z-]+)$ {
      content_by_lua_block {
        local cloudrun = require("cloudrun")
        local c = cloudrun.client{ project = "p", region = "r", endpoint = "http://{HOSTILE}",
          retry = { attempts = 1 }, timeout = 2, credentials = false }
        local t0 = ngx.now()
        local op, err = c:run_job(ngx.var.mode)
        ngx.update_time()
        ngx.say(op and "resource" or err.code, " ", tostring(not op and err.sent), " ",
          ("%.1f"):format(ngx.now() - t0), " ", op and "" or err.message)
      }
    }
    location = /token-now {
      content_by_lua_block {
        local creds = assert(require("cloudrun").auth.from_file("{DIR}/shared.json"))
        local token, err = creds:token()
        ngx.say(token and "token" or tostring(err))
      }
    }
  }

  server {
    listen 127.0.0.1:{TLS} ssl;
    server_name api.cloudrun.test;
    ssl_certificate {DIR}/chain.pem;
    ssl_certificate_key {DIR}/leaf.key;
    location / { proxy_pass http://{EMU}; proxy_set_header Host {EMU}; }
  }
}
]]

--- nginx with the config above; run: its own directory (pid, logs, temp files)
local function start_nginx(run, vars)
  vars.RUN = run
  local dir = run
  for _ = 1, 10 do
    vars.PORT, vars.TLS = random_port(), random_port()
    local conf = CONF:gsub("{(%u+%d?)}", function(k) return tostring(assert(vars[k], k)) end)
    h.write(dir .. "/nginx.conf", conf)
    local p = assert(io.popen(("echo $$; exec env CLOUD_RUN_EMULATOR_HOST=%s GOOGLE_CLOUD_PROJECT=test-project "
      .. "CLOUDSDK_RUN_REGION=us-central1 %s -p %s/ -c %s/nginx.conf -e %s/error.log >%s/stdout 2>&1"):format(
      vars.EMU, NGINX, dir, dir, dir, dir)))
    local pid = p:read("*l")
    for _ = 1, 100 do
      local out = h.run(("curl -s -m 2 http://127.0.0.1:%d/ping"):format(vars.PORT))
      if out == "ok\n" then return { pid = pid, pipe = p, port = vars.PORT } end
      if not h.run("kill -0 " .. pid .. " 2>/dev/null && echo alive"):find("alive") then break end
      os.execute("sleep 0.05")
    end
    h.stop(pid, p)
    local log = h.read(dir .. "/error.log") or ""
    if not log:find("Address already in use", 1, true) then
      error("nginx did not start:\n" .. log .. (h.read(dir .. "/stdout") or ""))
    end
  end
  error("nginx found no free port")
end

local function get(port, path)
  return h.run(("curl -sS -m 60 http://127.0.0.1:%d%s 2>&1"):format(port, path))
end

--- Requests A (in the background) then, after `gap` seconds, B; returns which finished first, and B's time.
local function race(port, a, b, gap, dir)
  local order = dir .. "/order"
  os.remove(order)
  local out = sh(("( curl -s -m 60 -o /dev/null http://127.0.0.1:%d%s; echo A >> %s ) & sleep %s; "
    .. "curl -s -m 60 -o /dev/null -w '%%{time_total}' http://127.0.0.1:%d%s; echo B >> %s; wait"):format(
    port, a, order, tostring(gap), port, b, order))
  return h.read(order), tonumber(out)
end

describe("the nginx driver (cosockets) in Debian's nginx", function()
  local dir, emu, emu2, emu2_port, fake, slow_fake, dns, one, two, hostile

  local function calls(host, rpc)
    return h.control(host, "GET", "stats").calls[rpc] or 0
  end

  local function executions(host)
    local out = sh(("curl -s http://%s/v2/projects/test-project/locations/us-central1/jobs/report/executions"
      .. "?pageSize=1000"):format(host))
    return (json.decode(out).executions or {})
  end

  setup(function()
    dir = h.tmpdir()
    os.execute("chmod 755 " .. h.sh_quote(dir)) -- nginx's workers read files here
    make_certs(dir)
    os.execute("chmod 644 " .. h.sh_quote(dir) .. "/*")
    local jobs = dir .. "/jobs.json"
    h.write(jobs, json.encode{ jobs = {
      h.sh_job("report", 'echo "$*" > "$OUT/$(echo "$3" | tr -dc 0-9)"', { taskCount = 1 }),
    } })
    os.execute("mkdir -p " .. h.sh_quote(dir .. "/out") .. " " .. h.sh_quote(dir .. "/logs"))
    emu = start_emulator_on(dir, 0, jobs)
    emu2_port = random_port()
    emu2 = start_emulator_on(dir, emu2_port, jobs)
    fake = start_fake(dir)
    slow_fake = start_fake(dir, "--mode slow --delay 2")
    key_file(dir, "shared.json", "shared@key-project.iam.gserviceaccount.com",
      "http://127.0.0.1:" .. fake.port .. "/token")
    key_file(dir, "slow.json", "slow@key-project.iam.gserviceaccount.com",
      "http://127.0.0.1:" .. slow_fake.port .. "/token")
    dns = start_dnsmasq(dir)
    local hs = h.spawn(("%s --port 0"):format(h.sh_quote(HOSTILE)), "^hostile listening on 127%.0%.0%.1:(%d+)$")
    hostile = { port = hs.match, stop = function() h.stop(hs.pid, hs.pipe) end }
    local user = h.run("id -un"):gsub("%s+$", "")
    local base = { DIR = dir, MODULES = MODULES, SRC = SRC, CPATH = CPATH, DNS = dns.port, EMU = emu.host,
      EMU2 = "127.0.0.1:" .. emu2_port, USER = user,
      HOSTILE = "127.0.0.1:" .. hostile.port }
    local d1, d2 = dir .. "/one", dir .. "/two"
    os.execute("mkdir -p " .. h.sh_quote(d1) .. " " .. h.sh_quote(d2))
    local v1, v2 = {}, {}
    for k, v in pairs(base) do v1[k], v2[k] = v, v end
    v1.WORKERS, v2.WORKERS = 1, 2
    -- each nginx keeps its pid, logs and temp files apart, and reads the shared files from dir
    one = start_nginx(d1, v1)
    two = start_nginx(d2, v2)
  end)

  teardown(function()
    for _, s in ipairs({ one, two }) do
      if s then h.stop(s.pid, s.pipe) end
    end
    for _, s in ipairs({ emu, emu2, fake, slow_fake, dns, hostile }) do
      if s then s.stop() end
    end
    if dir then os.execute("rm -rf " .. h.sh_quote(dir)) end
  end)

  it("answers GET /job/<id> with 202 and the execution, and 100 at once start 100 executions with their args", function()
    local before = #executions(emu.host)
    local urls = {}
    for id = 1, 100 do urls[id] = ("http://127.0.0.1:%d/job/%d"):format(two.port, id) end
    local out = sh("curl -s -Z --parallel-max 100 -m 60 -w '%{http_code}\\n' -o /dev/null " .. table.concat(urls, " "))
    local accepted = select(2, out:gsub("202", ""))
    assert.are.equal(100, accepted, out)
    local body = get(two.port, "/job/4242")
    assert.matches('^{"execution":"projects/test%-project/locations/us%-central1/jobs/report/executions/report%-', body)
    assert.are.equal(before + 101, #executions(emu.host))
    -- every task ran with manage.py job --id=<its id>
    for _ = 1, 200 do
      local done = 0
      for id = 1, 100 do if h.read(dir .. "/out/" .. id) then done = done + 1 end end
      if done == 100 then break end
      os.execute("sleep 0.1")
    end
    for id = 1, 100 do
      assert.are.equal("manage.py job --id=" .. id .. "\n", h.read(dir .. "/out/" .. id), "id " .. id)
    end
    -- not digits: no location matches
    assert.are.equal("404", h.run(("curl -s -o /dev/null -w '%%{http_code}' http://127.0.0.1:%d/job/12x"):format(two.port)))
  end)

  it("serves another request on the same worker while a RunJob is held 2 s", function()
    h.control(emu.host, "POST", "faults", { method = "RunJob", fault = "delay", delay_ms = 2000, count = 1 })
    local order, ping = race(one.port, "/job/9001", "/ping", 0.3, dir)
    assert.are.equal("B\nA\n", order)
    print(("\n  # /ping on the one worker while a RunJob is held 2 s: %.1f ms"):format(ping * 1000))
  end)

  it("serves another request on the same worker while a token fetch takes 2 s", function()
    local order, ping = race(one.port, "/slow-token", "/ping", 0.3, dir)
    assert.are.equal("B\nA\n", order)
    print(("\n  # /ping on the one worker while a token fetch takes 2 s: %.1f ms"):format(ping * 1000))
    assert.matches("/executions/report%-", get(one.port, "/slow-token"))
  end)

  it("fetches one token for all workers through the shared dict", function()
    local stats0 = h.control_url("http://127.0.0.1:" .. fake.port .. "/stats")
    local urls = {}
    for i = 1, 60 do urls[i] = ("http://127.0.0.1:%d/whoami"):format(two.port) end
    local out = sh("curl -s -Z --parallel-max 60 -m 60 " .. table.concat(urls, " "))
    local pids = {}
    for pid, name in out:gmatch("(%d+) ([^\n]+)") do
      assert.are.equal("projects/test-project/locations/us-central1/jobs/report", name)
      pids[pid] = true
    end
    local n = 0
    for _ in pairs(pids) do n = n + 1 end
    assert.is_true(n >= 2, "both workers answered: " .. out)
    local stats = h.control_url("http://127.0.0.1:" .. fake.port .. "/stats")
    assert.are.equal(1, stats.token_requests - stats0.token_requests)
  end)

  it("fetches a token without blocking from creds:token()", function()
    assert.are.equal("token\n", get(one.port, "/token-now"))
  end)

  it("retries a read after 503s and after a 429 with its Retry-After", function()
    local n0 = calls(emu.host, "GetJob")
    h.control(emu.host, "POST", "faults", { method = "GetJob", fault = "unavailable", count = 2 })
    assert.are.equal("projects/test-project/locations/us-central1/jobs/report\n", get(one.port, "/get"))
    assert.are.equal(n0 + 3, calls(emu.host, "GetJob"))
    h.control(emu.host, "POST", "faults", { method = "GetJob", fault = "resource_exhausted", retry_after = 1 })
    local t0 = os.time()
    assert.are.equal("projects/test-project/locations/us-central1/jobs/report\n", get(one.port, "/get"))
    assert.is_true(os.time() - t0 >= 1)
  end)

  it("never sends a RunJob again when its connection is reset after it took effect", function()
    local before, runs = #executions(emu.host), calls(emu.host, "RunJob")
    h.control(emu.host, "POST", "faults", { method = "RunJob", fault = "reset_after_effect" })
    local out = get(one.port, "/job-unkeyed/9100")
    assert.are.equal("UNAVAILABLE sent=true\n", out)
    assert.are.equal(before + 1, #executions(emu.host))
    assert.are.equal(runs + 1, calls(emu.host, "RunJob"))
    -- the example's GET /job/<id> has a key: it looks again, and answers with the execution it started
    h.control(emu.host, "POST", "faults", { method = "RunJob", fault = "reset_after_effect" })
    out = h.run(("curl -sS -m 60 -w ' %%{http_code}' http://127.0.0.1:%d/job/9101"):format(one.port))
    local name = out:gsub("\n", ""):match('^{"execution":"([^"]+)"} 202$')
    assert.is_string(name, out)
    assert.are.equal(before + 2, #executions(emu.host))
    assert.are.equal(runs + 2, calls(emu.host, "RunJob"))
    assert.are.equal(name, executions(emu.host)[1].name)
  end)

  it("answers a double request for GET /job/<id> with one execution: 202 for the first, 200 for the other", function()
    local before, runs = #executions(emu.host), calls(emu.host, "RunJob")
    -- the RunJob takes 0.5 s: the two requests are in nginx (in either worker) at once
    h.control(emu.host, "POST", "faults", { method = "RunJob", fault = "delay", delay_ms = 500 })
    local url = ("http://127.0.0.1:%d/job/7777"):format(two.port)
    local out = sh(("curl -s -Z --parallel-immediate -m 60 -w ' %%{http_code}' %s %s 2>/dev/null"):format(url, url))
    out = out:gsub("(%b{})%s*(%d%d%d)%s*", "%1 %2\n") -- one answer a line: its body, its status
    local codes, names = {}, {}
    for body, code in out:gmatch("(%b{}) (%d%d%d)") do
      codes[#codes + 1] = code
      names[json.decode(body).execution] = true
    end
    table.sort(codes)
    assert.are.same({ "200", "202" }, codes, out)
    local n = 0
    for _ in pairs(names) do n = n + 1 end
    assert.are.equal(1, n, out)
    assert.matches('"deduplicated":true', out, 1, true)
    assert.are.equal(before + 1, #executions(emu.host))
    assert.are.equal(runs + 1, calls(emu.host, "RunJob"))
    -- and again later, within the window: the same execution, nothing started
    local again = h.run(("curl -sS -m 60 -w ' %%{http_code}' %s"):format(url)):gsub("\n", "")
    assert.matches(" 200$", again)
    assert.are.equal(runs + 1, calls(emu.host, "RunJob"))
    print("\n  # two requests for GET /job/7777 at once (two workers, lua_shared_dict cloudrun):\n"
      .. out:gsub("[^\n]+", "  #   %0") .. "  # and one more a moment later:\n  #   " .. again
      .. ("\n  # executions of report started: %d, RunJob requests: %d"):format(#executions(emu.host) - before,
        calls(emu.host, "RunJob") - runs))
  end)

  it("starts each execution once on a kept-alive connection the server closed", function()
    -- a first call leaves a connection in nginx's pool; the server then goes away and comes back
    assert.matches("/executions/report%-", get(one.port, "/job-restart/1"))
    emu2.stop()
    emu2 = start_emulator_on(dir, emu2_port, dir .. "/jobs.json")
    assert.matches("/executions/report%-", get(one.port, "/job-restart/2"))
    assert.are.equal(1, #executions(emu2.host))
    emu2.stop()
    emu2 = start_emulator_on(dir, emu2_port, dir .. "/jobs.json")
    assert.are.equal("projects/test-project/locations/us-central1/jobs/report\n", get(one.port, "/get-restart"))
  end)

  it("runs run_jobs on light threads, results in order", function()
    assert.are.equal("10 9 1 NOT_FOUND\n", get(one.port, "/fan-out"))
  end)

  it("speaks TLS through an intermediate to a trusted CA, by name through nginx's resolver", function()
    assert.are.equal("projects/test-project/locations/us-central1/jobs/report\n", get(one.port, "/tls-good"))
  end)

  it("fails with the directives to check when the server's CA is not trusted", function()
    -- on the other nginx: in this one, /tls-good left a verified connection in the worker's pool,
    -- which any location would reuse (pooled connections are the worker's, not a location's)
    local out = get(two.port, "/tls-bad")
    assert.matches("^FAILED_PRECONDITION ", out)
    assert.matches("lua_ssl_trusted_certificate", out, 1, true)
    assert.matches("api.cloudrun.test:", out, 1, true)
  end)

  it("stops a hostile server's endless or huge body at the cap, keeps its long message to a line, and never "
    .. "quotes the token back", function()
    for _, case in ipairs({ { "endless", "RESOURCE_EXHAUSTED" }, { "huge", "RESOURCE_EXHAUSTED" },
      { "long-error", "INTERNAL" }, { "echo-auth", "UNAUTHENTICATED" }, { "empty", "UNKNOWN" } }) do
      local out = assert(get(one.port, "/hostile/" .. case[1]))
      local code, len, leak = out:match("^(%S+) (%d+) (%S+)\n$")
      assert.are.equal(case[2], code, case[1] .. ": " .. out)
      assert.is_true(tonumber(len) <= 4096, case[1] .. ": a message of " .. tostring(len) .. " bytes")
      assert.are.equal("clean", leak, case[1])
    end
    -- the worker is still there, and still answers
    assert.are.equal("ok\n", (get(one.port, "/ping")))
  end)

  it("answers every malformed answer with nil, err and a message that says what was wrong, by the deadline",
    function()
    for _, case in ipairs({
      { "badchunk", "UNAVAILABLE", "a chunk size that is not hexadecimal" },
      { "hugechunk", "UNAVAILABLE", "a chunk size of more than 16 hex digits" },
      { "garbagechunk", "UNAVAILABLE", "a chunk size that is not hexadecimal" },
      { "chunknocrlf", "UNAVAILABLE", "a chunk not followed by CRLF" },
      { "liar", "UNAVAILABLE", "the connection closed before the answer was complete (the body)" },
      { "nanlength", "UNAVAILABLE", "a Content-Length that is not a number" },
      { "neglength", "UNAVAILABLE", "a Content-Length that is not a number" },
      { "nocolon", "UNAVAILABLE", "a header line that is not `name: value`" },
      { "nothttp", "UNAVAILABLE", "its first line is not an HTTP/1.x status line" },
      { "longheader", "RESOURCE_EXHAUSTED", "larger than this client takes (32 MiB of body, 64 KiB of headers)" },
      { "manyheaders", "RESOURCE_EXHAUSTED", "larger than this client takes (32 MiB of body, 64 KiB of headers)" },
      { "drip", "DEADLINE_EXCEEDED", "no complete answer within the timeout of 2s (the body)" },
      { "drip-head", "DEADLINE_EXCEEDED", "no complete answer within the timeout of 2s (the status line)" },
    }) do
      local out = get(one.port, "/malformed/" .. case[1])
      local code, sent, took, message = out:match("^(%S+) (%S+) (%S+) (.*)\n$")
      assert.are.equal(case[2], code, case[1] .. ": " .. out)
      assert.are.equal("true", sent, case[1] .. ": the request went out")
      assert.is_true(tonumber(took) <= 2.5, case[1] .. ": took " .. tostring(took) .. " s")
      assert.is_truthy(message:find(case[3], 1, true), case[1] .. ": " .. out)
      assert.is_truthy(message:find("^POST http://127%.0%.0%.1:%d+/v2/projects/p/locations/r/jobs/" .. case[1]:gsub("%%-", "%%%%-")
        .. ":run: "), case[1] .. ": " .. out)
    end
    assert.are.equal("ok\n", (get(one.port, "/ping")))
  end)

  it("leaves no Lua error in nginx's logs", function()
    for _, run in ipairs({ dir .. "/one", dir .. "/two" }) do
      local log = h.read(run .. "/error.log") or ""
      for line in log:gmatch("[^\n]+") do
        if line:find("[error]", 1, true) or line:find("[alert]", 1, true) or line:find("[crit]", 1, true) then
          -- the one expected: the handshake /tls-bad made to fail
          assert.is_truthy(line:find("certificate verify", 1, true), line)
        end
      end
    end
  end)

  it("runs examples/openresty/nginx.conf as it is, but for its port and the workers' user (as run.sh does)", function()
    -- the example's paths are relative to its prefix: lay the same tree out around a copy
    local top = dir .. "/example"
    local prefix = top .. "/examples/openresty"
    local build = CPATH:match("^(.-)/lua/%?%.so")
    sh(("mkdir -p %s/logs && ln -s %s/lua %s/lua && ln -s %s %s/build-luajit && cp %s/examples/openresty/handler.lua %s/")
      :format(h.sh_quote(prefix), h.sh_quote(SRC), h.sh_quote(top), h.sh_quote(build), h.sh_quote(top),
        h.sh_quote(SRC), h.sh_quote(prefix)))
    local conf = assert(h.read(SRC .. "/examples/openresty/nginx.conf"))
    local port
    local nginx_pid, pipe
    for _ = 1, 10 do
      port = random_port()
      h.write(prefix .. "/nginx.conf", (conf:gsub("listen 127%.0%.0%.1:8080;", "listen 127.0.0.1:" .. port .. ";")))
      pipe = assert(io.popen(("echo $$; exec env CLOUD_RUN_EMULATOR_HOST=%s GOOGLE_CLOUD_PROJECT=test-project "
        .. "CLOUDSDK_RUN_REGION=us-central1 %s -p %s/ -c nginx.conf -g 'user %s;' >%s/stdout 2>&1"):format(emu.host,
        NGINX, prefix, h.run("id -un"):gsub("%s+$", ""), top)))
      nginx_pid = pipe:read("*l")
      local up = false
      for _ = 1, 100 do
        if h.run(("curl -s -m 2 http://127.0.0.1:%d/ping"):format(port)) == "ok\n" then up = true break end
        if not h.run("kill -0 " .. nginx_pid .. " 2>/dev/null && echo alive"):find("alive") then break end
        os.execute("sleep 0.05")
      end
      if up then break end
      h.stop(nginx_pid, pipe)
      nginx_pid = nil
      assert((h.read(prefix .. "/logs/error.log") or ""):find("Address already in use", 1, true),
        h.read(prefix .. "/logs/error.log"))
    end
    assert(nginx_pid, "the example's nginx did not start")
    local ok, err = pcall(function()
      local out = h.run(("curl -s -w ' %%{http_code}' http://127.0.0.1:%d/job/4300"):format(port))
      assert.matches('^{"execution":"projects/test%-project/locations/us%-central1/jobs/report/executions/report%-%w+"} 202$',
        (out:gsub("\n", "")))
      out = h.run(("curl -s -w ' %%{http_code}' -X POST -H 'Content-Type: application/json' "
        .. "-d '{\"args\": [\"manage.py\", \"job\", \"--id=4301\"], \"env\": {\"ID\": \"4301\"}}' "
        .. "http://127.0.0.1:%d/jobs/report:run"):format(port))
      assert.matches(" 202$", (out:gsub("\n", "")))
      out = h.run(("curl -s -w ' %%{http_code}' -X POST -d '{\"colour\": 1}' http://127.0.0.1:%d/jobs/report:run")
        :format(port))
      assert.matches("INVALID_ARGUMENT.* 400$", (out:gsub("\n", "")))
      -- a NUL in the JSON body: json.decode keeps it, run_job refuses it (it used to
      -- be cut there, and the job run with "--id=4302")
      for _, body in ipairs({ '{"args": ["manage.py", "job", "--id=4302\\u0000; rm"]}',
                              '{"env": {"ID": "4302\\u0000x"}}' }) do
        out = h.run(("curl -s -w ' %%{http_code}' -X POST -d %s http://127.0.0.1:%d/jobs/report:run")
          :format(h.sh_quote(body), port))
        -- (the handler's JSON may put its members in any order)
        out = out:gsub("\n", "")
        assert.matches(' 400$', out)
        assert.matches('"code":"INVALID_ARGUMENT"', out, 1, true)
        assert.matches("holds a NUL byte", out, 1, true)
      end
      out = h.run(("curl -s -w ' %%{http_code}' -X POST -d '{}' http://127.0.0.1:%d/jobs/nosuch:run"):format(port))
      assert.matches("NOT_FOUND.* 404$", (out:gsub("\n", "")))
      for _ = 1, 100 do
        if h.read(dir .. "/out/4301") then break end
        os.execute("sleep 0.1")
      end
      assert.are.equal("manage.py job --id=4301\n", h.read(dir .. "/out/4301"))
      assert.are.equal("manage.py job --id=4300\n", h.read(dir .. "/out/4300"))
      assert.is_nil(h.read(dir .. "/out/4302"))
    end)
    h.stop(nginx_pid, pipe)
    assert(ok, err)
  end)

  it("answers a call from init_worker_by_lua with an error naming the phase", function()
    local out = get(one.port, "/init-worker")
    assert.matches("^FAILED_PRECONDITION: ", out)
    assert.matches("init_worker phase", out, 1, true)
  end)
end)
