-- bench/report.lua — the table and the JSON of a bench/run.sh run: reads
-- the measurements (one JSON object a line, each with its path id and round),
-- takes the median of each figure over the rounds and how far the rounds
-- spread, and sets every ratio beside issue 13's target, met or not (targets
-- are read here, never enforced: the run does not fail on them).
--   cloudrun-lua bench/report.lua RESULTS.jsonl OUT.json   (BENCH_META: the run's settings as JSON)
local core = require("cloudrun.core")

local results_path, json_path = arg[1], arg[2]
assert(results_path and json_path, "usage: report.lua RESULTS.jsonl OUT.json")
local meta = core.json_decode(os.getenv("BENCH_META") or "{}")

-- ---- the measurements, by path -------------------------------------------------
local by_id, order = {}, {}
for line in io.lines(results_path) do
  if line:match("%S") then
    local r = assert(core.json_decode(line))
    if not by_id[r.id] then
      by_id[r.id] = {}
      order[#order + 1] = r.id
    end
    table.insert(by_id[r.id], r)
  end
end

local function median(values)
  table.sort(values)
  local n = #values
  if n == 0 then return nil end
  if n % 2 == 1 then return values[(n + 1) / 2] end
  return (values[n / 2] + values[n / 2 + 1]) / 2
end

-- The median over rounds of field `f` of path `id`, and the spread (max - min) / median.
local function stat(id, f)
  local rounds = by_id[id]
  if not rounds then return nil end
  local v = {}
  for _, r in ipairs(rounds) do
    if type(r[f]) == "number" then v[#v + 1] = r[f] end
  end
  if #v == 0 then return nil end
  local m = median(v)
  return m, (m ~= 0 and (v[#v] - v[1]) / m or 0)
end

local function get(id, f) return (stat(id, f)) end

-- ---- the paths ---------------------------------------------------------------------
local warm = {
  { "a", "(a) floor A: bare libcurl keep-alive loop" },
  { "b", "(b) our C API: cr_client_run_job" },
  { "c", "(c) our Lua API: client:run_job" },
  { "f_warm", "(f) Google's Node client, warm" },
}
local oneshot = {
  { "d", "(d) floor B: bare libcurl one-shot process" },
  { "e_lua", "(e) cloudrun-lua -e, self-signed JWT" },
  { "e_cli", "(e) cloudrun jobs execute --async" },
  { "e_lua_warm", "(e) cloudrun-lua -e, token cached (2nd run)" },
  { "e_cli_warm", "(e) cloudrun jobs execute, token cached" },
  { "f_cold", "(f) Google's Node client, cold" },
}
local labels = {}
for _, p in ipairs(warm) do labels[p[1]] = p[2] end
for _, p in ipairs(oneshot) do labels[p[1]] = p[2] end
labels.g = "(g) fan-out against 20 ms of server latency"
labels.h_floor = "(h) floor C: posix_spawn and wait of /bin/true"
labels.h_emulator = "(h) the emulator's executions"
labels.h_runjob = "(h) the emulator's RunJob answers (getload, 32 connections)"
labels.h_emulator_tmpfs = "(h) the emulator's executions, its logs on tmpfs"
labels.h_runjob_tmpfs = "(h) the emulator's RunJob answers, its logs on tmpfs"
labels.h_get = "(h) the emulator's GetExecution on 16 connections"

local out = {}
local function say(fmt, ...) out[#out + 1] = fmt:format(...) end
local function pct(x) return x and ("%3.0f%%"):format(x * 100) or "   -" end
local function mb(kb) return kb and ("%.1f MB"):format(kb / 1024) or "-" end
local function num(x, f) return x and (f or "%.1f"):format(x) or "-" end

say("lua-cloudrun benchmark%s: %d round(s), medians over rounds; spread = (max - min) / median of the rounds",
  meta.quick and " (QUICK: tiny N, a smoke test: figures are not meaningful)" or "", meta.rounds or 0)
say("loopback, %s CPUs, load average %s before, %s after; commit %s, %s; %s s",
  tostring(meta.cpus), tostring(meta.load_before), tostring(meta.load_after), tostring(meta.commit),
  tostring(meta.date), tostring(meta.seconds))
say("")
-- The warm loops, once per place: beside the stand-in on its CPU (ids a, b, ...) and,
-- when run.sh pinned them, on the other CPU (a_x, b_x, ...).
local places = { { "", meta.pinned and "on the stand-in's CPU" or "where the scheduler put it" } }
if meta.pinned then places[2] = { "_x", "on another CPU than the stand-in's" } end
for _, place in ipairs(places) do
  say("%-46s %11s %12s %9s %9s %11s %7s", ("warm: %s calls a round, %s"):format(meta.warm_calls or "?", place[2]),
    "wall/call", "client CPU", "calls/s", "peak RSS", "server CPU", "spread")
  for _, p in ipairs(warm) do
    local id = p[1] .. place[1]
    if by_id[id] then
      local wall, spread = stat(id, "wall_us")
      say("%-46s %8.1f us %9.1f us %9.0f %9s %8.1f us %7s", p[2], wall, get(id, "cpu_us"), 1e6 / wall,
        mb(get(id, "rss_kb")), get(id, "server_cpu_us") or 0, pct(spread))
    else
      say("%-46s %11s", p[2], "skipped")
    end
  end
end
say("  (Node runs %s calls a round after 50 to warm up)", tostring(meta.node_warm_calls))
if meta.pinned then
  say("  (the stand-in is pinned to CPU 0; each warm loop runs on CPU 0 beside it and on CPU 1: across CPUs")
  say("   this machine's wake-ups, not the client's work, set the wall time, and cost the client CPU too)")
end
say("")
say("%-46s %11s %12s %9s %9s %11s %7s",
  ("one-shot: a process per trigger, %s a round"):format(meta.oneshot_processes or "?"),
  "wall/proc", "CPU/proc", "procs/s", "peak RSS", "token req.", "spread")
for _, p in ipairs(oneshot) do
  local id = p[1]
  if by_id[id] then
    local wall, spread = stat(id, "wall_us")
    say("%-46s %8.2f ms %9.2f ms %9.1f %9s %11s %7s", p[2], wall / 1e3, get(id, "cpu_us") / 1e3, 1e6 / wall,
      mb(get(id, "rss_kb")), num(get(id, "token_requests"), "%.0f/proc"), pct(spread))
  else
    say("%-46s %11s", p[2], "skipped")
  end
end
say("  (d) and the (e)s take turns process by process; token req.: what cr-fake-google answered to one process.")
say("  (e) cold (CLOUDRUN_TOKEN_CACHE=0): cloudrun-lua signs its own JWT (no token request); the CLI has no")
say("      self-signed JWT option, so its figure includes a token exchange with cr-fake-google on loopback")
say("      (RS256 signing and verifying). Token cached: a second one-shot within the token's life, which")
say("      reads it from the per-user file (gcloud's configuration dir/cloudrun/access_tokens.json)")
say("")
if by_id.g then
  local seq, sspread = stat("g", "sequential_s")
  local fan, fspread = stat("g", "fanned_s")
  local n = by_id.g[1].n
  say("%-46s %11s %12s %9s %9s %11s %7s", ("fan-out: %d RunJob, 20 ms each on the server"):format(n), "total", "",
    "calls/s", "", "", "spread")
  say("%-46s %9.3f s %12s %9.0f %9s %11s %7s", "(g) run_job, one after another", seq, "", n / seq, "", "", pct(sspread))
  say("%-46s %9.3f s %12s %9.0f %9s %11s %7s", ("(g) run_jobs, %d in flight"):format(by_id.g[1].in_flight), fan, "",
    n / fan, "", "", pct(fspread))
  -- the server alone needs ceil(n / in_flight) x 20 ms; a round half a second past that waited on something else
  local least = math.ceil(n / by_id.g[1].in_flight) * 0.020
  local stalled, each = 0, {}
  for _, r in ipairs(by_id.g) do
    each[#each + 1] = ("%.3f"):format(r.fanned_s)
    if r.fanned_s > least + 0.5 then stalled = stalled + 1 end
  end
  say("  run_jobs per round: %s s (the server's least: %.2f s); %d of %d round(s) stalled (> least + 0.5 s)",
    table.concat(each, ", "), least, stalled, #by_id.g)
  say("")
end
if by_id.h_floor then
  say("%-46s %11s %12s %9s %9s %11s %7s", "emulator and floor C", "per second", "", "", "", "", "spread")
  local v, s = stat("h_floor", "per_s")
  say("%-46s %11.0f %12s %9s %9s %11s %7s", ("(h) floor C: spawn and wait /bin/true (x%d)"):format(meta.spawns or 0),
    v, "", "", "", "", pct(s))
  v, s = stat("h_emulator", "per_s")
  say("%-46s %11.0f %12s %9s %9s %11s %7s", ("(h) emulator: executions/s (%d, %d in flight)"):format(
    meta.emulator_executions or 0, meta.in_flight or 0), v, "", "", "", "", pct(s))
  if by_id.h_emulator_tmpfs then
    v, s = stat("h_emulator_tmpfs", "per_s")
    say("%-46s %11.0f %12s %9s %9s %11s %7s", "(h) the same, logs on tmpfs (/dev/shm)", v, "", "", "", "", pct(s))
  end
  v, s = stat("h_runjob", "per_s")
  say("%-46s %11.0f %12s %9s %9s %11s %7s", "(h) emulator: RunJob/s answered meanwhile", v, "", "", "", "", pct(s))
  v, s = stat("h_get", "per_s")
  say("%-46s %11.0f %12s %9s %9s %11s %7s", "(h) emulator: GetExecution/s, 16 connections", v, "", "", "", "", pct(s))
  say("%-46s %11s", "  (load generator's own CPU per request: " .. num(get("h_get", "cpu_us")) .. " us)", "")
  say("")
end

-- ---- the ratios --------------------------------------------------------------------
-- { name, value, op ("<=", ">=" or nil: no target), target, unit ("x" or "MB") }
local ratios = {}
local function ratio(name, value, op, target, unit)
  -- a ratio without a target is shown only when measured; one with a target always
  if value or op then
    ratios[#ratios + 1] = { name = name, value = value, op = op, target = target, unit = unit or "x" }
  end
end
local function div(x, y) return x and y and y ~= 0 and x / y or nil end
local function sub(x, y) return x and y and x - y or nil end

for _, place in ipairs(places) do
  local x = place[1]
  local where = meta.pinned and (x == "" and ", same CPU" or ", other CPU") or ""
  local function r(what, f, over, under, op, target)
    ratio(("(%s)/(%s) %s%s"):format(over:gsub("_", " "), under, what, where),
      div(get(over .. x, f), get(under .. x, f)), op, target)
  end
  r("client CPU per call", "cpu_us", "c", "a", "<=", 1.3)
  r("wall per call", "wall_us", "c", "a", "<=", 1.3)
  r("client CPU per call", "cpu_us", "f_warm", "c", ">=", 50)
  r("client CPU per call", "cpu_us", "b", "a")
  r("wall per call", "wall_us", "b", "a")
  r("client CPU per call", "cpu_us", "c", "b")
  r("client CPU per call", "cpu_us", "f_warm", "a")
  r("wall per call", "wall_us", "f_warm", "c")
end
ratio("(e lua)/(d) wall per process", div(get("e_lua", "wall_us"), get("d", "wall_us")), "<=", 1.3)
ratio("(e lua) - (d) peak RSS", sub(get("e_lua", "rss_kb"), get("d", "rss_kb")) and
  sub(get("e_lua", "rss_kb"), get("d", "rss_kb")) / 1024, "<=", 1.0, "MB")
ratio("(e cli)/(d) wall per process", div(get("e_cli", "wall_us"), get("d", "wall_us")), "<=", 1.3)
ratio("(e cli) - (d) peak RSS", sub(get("e_cli", "rss_kb"), get("d", "rss_kb")) and
  sub(get("e_cli", "rss_kb"), get("d", "rss_kb")) / 1024, "<=", 1.0, "MB")
-- issue 24: the second one-shot trigger within a token's life, beside floor B
ratio("(e lua, token cached)/(d) wall per process", div(get("e_lua_warm", "wall_us"), get("d", "wall_us")), "<=", 1.15)
ratio("(e cli, token cached)/(d) wall per process", div(get("e_cli_warm", "wall_us"), get("d", "wall_us")), "<=", 1.15)
ratio("(e lua, token cached)/(d) CPU per process", div(get("e_lua_warm", "cpu_us"), get("d", "cpu_us")))
ratio("(e lua)/(d) CPU per process", div(get("e_lua", "cpu_us"), get("d", "cpu_us")))
ratio("(f cold)/(d) wall per process", div(get("f_cold", "wall_us"), get("d", "wall_us")))
ratio("(f cold)/(e lua) wall per process", div(get("f_cold", "wall_us"), get("e_lua", "wall_us")))
ratio("(f cold) - (d) peak RSS", sub(get("f_cold", "rss_kb"), get("d", "rss_kb")) and
  sub(get("f_cold", "rss_kb"), get("d", "rss_kb")) / 1024, nil, nil, "MB")
ratio("(g) speed-up, run_jobs over run_job", get("g", "speedup"), ">=", 10)
ratio("(h) emulator executions/s over floor C", div(get("h_emulator", "per_s"), get("h_floor", "per_s")), ">=", 0.8)
if by_id.h_emulator_tmpfs then
  ratio("(h) the same, logs on tmpfs (what the disk costs)",
    div(get("h_emulator_tmpfs", "per_s"), get("h_floor", "per_s")))
end
ratio("(h) emulator GetExecution/s", get("h_get", "per_s"), ">=", 5000, "/s")

local function show(v, unit)
  if not v then return "-" end
  if unit == "MB" then return ("%+.2f MB"):format(v) end
  if unit == "/s" then return ("%.0f/s"):format(v) end
  return ("%.2fx"):format(v)
end

say("%-46s %11s %12s  %s", "ratio", "value", "target", "")
local met_count, unmet = 0, 0
for _, r in ipairs(ratios) do
  local verdict, target = "", "-"
  if r.op then
    target = (r.op == "<=" and "<= " or ">= ") .. (r.unit == "MB" and ("+%.1f MB"):format(r.target)
      or r.unit == "/s" and ("%d/s"):format(r.target)
      or ((r.target * 10) % 1 == 0 and "%.1fx" or "%.2fx"):format(r.target))
    r.met = r.value and ((r.op == "<=" and r.value <= r.target) or (r.op == ">=" and r.value >= r.target))
    if r.value == nil then
      verdict = "not measured (skipped)"
      unmet = unmet + 1
    elseif r.met then
      verdict = "met"
      met_count = met_count + 1
    else
      unmet = unmet + 1
      if r.unit == "MB" then
        verdict = ("NOT MET: %.2f MB over"):format(r.value - r.target)
      elseif r.op == "<=" then
        verdict = ("NOT MET: needs %.0f%% less"):format((1 - r.target / r.value) * 100)
      else
        verdict = ("NOT MET: needs %.2fx more"):format(r.target / r.value)
      end
    end
    r.verdict = verdict
  end
  say("%-46s %11s %12s  %s", r.name, show(r.value, r.unit), target, verdict)
end
say("")
say("targets met: %d of %d%s", met_count, met_count + unmet, meta.quick and " (quick mode: not meaningful)" or "")

-- ---- JSON --------------------------------------------------------------------------
local function encode(v, indent)
  indent = indent or ""
  local t = type(v)
  if t == "table" then
    local inner = indent .. "  "
    if #v > 0 or next(v) == nil then
      local parts = {}
      for _, x in ipairs(v) do parts[#parts + 1] = inner .. encode(x, inner) end
      if #parts == 0 then return "[]" end
      return "[\n" .. table.concat(parts, ",\n") .. "\n" .. indent .. "]"
    end
    local keys = {}
    for k in pairs(v) do keys[#keys + 1] = k end
    table.sort(keys)
    local parts = {}
    for _, k in ipairs(keys) do parts[#parts + 1] = inner .. encode(k) .. ": " .. encode(v[k], inner) end
    return "{\n" .. table.concat(parts, ",\n") .. "\n" .. indent .. "}"
  elseif t == "string" then
    return '"' .. v:gsub('[%c"\\]', function(c)
      return ({ ['"'] = '\\"', ["\\"] = "\\\\", ["\n"] = "\\n", ["\t"] = "\\t" })[c] or ("\\u%04x"):format(c:byte())
    end) .. '"'
  elseif t == "number" then
    if v ~= v or v == math.huge or v == -math.huge then return "null" end
    if v == math.floor(v) and math.abs(v) < 2 ^ 53 then return ("%d"):format(v) end
    return ("%.6g"):format(v)
  elseif t == "boolean" then
    return tostring(v)
  end
  return "null"
end

local paths = {}
for _, id in ipairs(order) do
  local rounds = by_id[id]
  local medians, spreads = {}, {}
  for k, v in pairs(rounds[1]) do
    if type(v) == "number" and k ~= "round" then
      medians[k], spreads[k] = stat(id, k)
    end
  end
  if medians.wall_us and medians.wall_us > 0 then medians.calls_per_s = 1e6 / medians.wall_us end
  paths[id] = { label = labels[id], median = medians, spread = spreads, rounds = rounds }
end
for _, r in ipairs(ratios) do r.verdict = nil end
local doc = { meta = meta, paths = paths, ratios = ratios, targets_met = met_count, targets_total = met_count + unmet }
local f = assert(io.open(json_path, "w"))
f:write(encode(doc), "\n")
f:close()

print(table.concat(out, "\n"))
print(("\nJSON: %s"):format(json_path))
