-- gcloud's --filter and --sort-by: the language (cloudrun.filter) on resources
-- as the v2 API sends them, its regular expressions (cloudrun.regex), the
-- each_* iterators' `filter =`, and the CLI's list commands against the
-- emulator with --filter, --sort-by, --limit, --page-size and --uri.
local h = require("helpers")
local filter = require("cloudrun.filter")
local regex = require("cloudrun.regex")
local cloudrun = require("cloudrun")
local core = require("cloudrun.core")

local CLI = h.sh_quote(h.bin .. "/cloudrun")

local function array(t)
  return setmetatable(t, core.array_mt)
end

local function hours_ago(n)
  return os.date("!%Y-%m-%dT%H:%M:%S", os.time() - n * 3600) .. ".250Z"
end

-- An Execution as the v2 API sends it (zero counts left out: the metatable reads them as 0).
local EXECUTION = setmetatable({
  name = "projects/p/locations/europe-west1/jobs/report-daily/executions/report-daily-x2k9q",
  job = "report-daily",
  labels = { env = "prod", team = "Data", ["run.googleapis.com/source"] = "cron" },
  annotations = {},
  generation = "3",
  taskCount = 4,
  succeededCount = 3,
  createTime = "2026-11-02T08:00:00.123456Z",
  startTime = hours_ago(2),
  reconciling = false,
  satisfiesPzs = true,
  conditions = array({
    { type = "Ready", state = "CONDITION_SUCCEEDED" },
    { type = "Completed", state = "CONDITION_FAILED", message = "Task report-daily-x2k9q-task3 failed" },
  }),
  template = { taskCount = 4, template = { containers = array({ { image = "europe-docker.pkg.dev/p/r/report:1.2",
    args = array({ "--mode", "full" }) } }) } },
  tags = array({}),
}, cloudrun.execution_mt)

describe("filter expressions", function()
  -- { expression, whether EXECUTION matches }
  local cases = {
    -- = : whole value, case-insensitive (gcloud's word match as it evaluates today)
    { "job=report-daily", true }, { "job=REPORT-DAILY", true }, { "job=report", false },
    { "labels.env=prod", true }, { "labels.team=data", true }, { "labels.env=dev", false },
    { "labels.'run.googleapis.com/source'=cron", true }, { 'labels."run.googleapis.com/source"=cron', true },
    { "taskCount=4", true }, { "taskCount=4.0", true }, { "taskCount=5", false }, { "generation=3", true },
    { "failedCount=0", true }, -- left out by the API, read as 0
    { "reconciling=false", true }, { "satisfiesPzs=true", true }, { "satisfiesPzs=True", true },
    { "missing=''", true }, { "missing=null", true }, { "missing=x", false },
    { "labels=prod", true }, { "labels=env", true }, -- a map: any key or value
    -- != : NOT =
    { "labels.env!=dev", true }, { "labels.env!=prod", false }, { "missing!=x", true },
    { "conditions.type!=Ready", false }, { "tags!=x", true },
    -- : has a part of it, case-insensitive; * globs at one end, or in the middle
    { "name:daily", true }, { "name:DAILY", true }, { "name:weekly", false }, { "job:report-*", true },
    { "job:*daily", true }, { "job:rep*ily", true }, { "job:rep*week", false }, { "job:daily*", false },
    { "labels:*", true }, { "labels.env:*", true }, { "labels.zone:*", false }, { "annotations:*", false },
    { "tags:*", false }, { "labels:team", true }, { "taskCount:4", true }, { "taskCount:44", false },
    -- a name on a list applies to every item; [N] and [-1] pick one, [] all
    { "conditions.type=Completed", true }, { "conditions.state:FAILED", true }, { "conditions[0].type=Ready", true },
    { "conditions[-1].type=Ready", false }, { "conditions[].message:task3", true },
    { "template.template.containers.args=full", true }, { "template.template.containers[0].image:report", true },
    { "template.taskCount>=4", true }, { "template.task_count=4", true }, { "succeeded_count=3", true },
    -- < <= > >=: numbers, times, else text in byte order
    { "succeededCount>2", true }, { "succeededCount>3", false }, { "succeededCount>=3", true },
    { "succeededCount<3", false }, { "succeededCount<=3", true }, { "generation>20", false }, { "generation<20", true },
    { "createTime>2026-11-01", true }, { "createTime<2026-11-02", false }, { "createTime>2026-11-02T08:00:00Z", true },
    { "createTime<2026-11-02T08:00:00.5Z", true }, { "createTime>2026-11-02T09:00:00+01:00", true },
    { "createTime>2026-11-02T07:00:01-01:00", false },
    { "startTime>-P1D", true }, { "startTime>-PT1H", false }, { "startTime<-PT1H30M", true }, { "startTime>-P1W", true },
    { "job<report-e", true }, { "job>report-dailz", false }, { "missing<a", true },
    -- ~ !~: Python-flavoured regular expressions, unanchored, case-sensitive
    { "name~daily", true }, { "name~^report", false }, { "job~^report-(daily|weekly)$", true },
    { "job~'^rep.rt-d[a-z]+y$'", true }, { "job~DAILY", false }, { "job~(?i)DAILY", true }, { "job!~daily", false },
    { "job!~weekly", true }, { "labels.team~^D", true }, { "taskCount~^4$", true },
    { [[conditions.message~"task\d failed$"]], true }, { [[job~\w+-\w+]], true },
    -- AND OR NOT, juxtaposition, parentheses, -
    { "labels.env=prod AND succeededCount>0", true }, { "labels.env=prod AND succeededCount>3", false },
    { "labels.env=dev OR succeededCount>0", true }, { "labels.env=dev OR labels.env=qa", false },
    { "NOT labels.env=dev", true }, { "-labels.env=prod", false }, { "NOT (labels.env=dev OR job:x)", true },
    { "labels.env=prod succeededCount>0", true }, { "labels.env=prod succeededCount>3", false },
    -- juxtaposition binds loosest: a b OR c is a AND (b OR c)
    { "labels.env=dev succeededCount>3 OR job:report", false }, { "labels.env=prod job:x OR job:report", true },
    { "job:x OR job:report labels.env=prod", true }, { "job:report OR job:x labels.env=dev", false },
    { "(labels.env=dev OR labels.env=prod) AND taskCount=4", true },
    { "labels.env=prod AND (taskCount=1 OR taskCount=4)", true }, { "labels.env=prod AND NOT taskCount=4", false },
    -- lists of values for : and =, separated by blanks or commas; AND/OR/NOT in them are readers' aids
    { "labels.env=(dev qa prod)", true }, { "labels.env=(dev,qa)", false }, { "labels.env:(dev OR pro)", true },
    -- quoting
    { "job='report-daily'", true }, { [[job="report\"daily"]], false }, { "name:' x'", false },
    { "", true }, { "   ", true },
  }
  for _, case in ipairs(cases) do
    it(("%q %s"):format(case[1], case[2] and "matches" or "does not match"), function()
      local match = assert(filter.compile(case[1]))
      assert.are.equal(case[2], match(EXECUTION))
    end)
  end

  it("reads a resource whatever its counts' metatable, and plain tables too", function()
    local match = assert(filter.compile("succeededCount>0"))
    assert.is_true(match({ succeededCount = 1 }))
    assert.is_false(match({}))
    assert.is_false(match("not a table"))
  end)
end)

describe("filter errors", function()
  -- { expression, the message: what and where }
  local cases = {
    { "labels.env=", "expected a value after '=' at column 12" },
    { "labels.env= AND x=1", "expected a value after '=', not AND at column 13; quote it to mean the word" },
    { "a=1 AND b=2 OR c=3", "AND and OR cannot be combined without parentheses at column 13; write (A AND B) OR C, "
      .. "or A AND (B OR C)" },
    { "(a=1 OR b=2) AND c=3", nil },
    { "(a=1", "missing ')' for this '(' at column 1" },
    { "a=1)", "')' without its '(' at column 4" },
    { "a=(b", "missing ')' for this '(' at column 3" },
    { "a=()", "expected a value in the list after '=' at column 3" },
    { "foo", "expected an operator (: = != < <= > >= ~ !~) after 'foo' at column 4; bare words (gcloud's global "
      .. "restrictions) are not supported" },
    { "a=1 and b=2", "expected an operator (: = != < <= > >= ~ !~) after 'and' at column 9; AND, OR and NOT are "
      .. "written in capitals" },
    { "a==b", "unknown operator '==' at column 2; quote a value that starts with : = ! < > or ~" },
    { "a:**b*", "a ':' pattern takes at most one * at column 3" },
    { "NOT", "expected a term after NOT at column 1" },
    { "a=1 AND", "expected a term after AND at column 8" },
    { "a=1 OR ", "expected a term after OR at column 7" },
    { "AND a=1", "expected a term, not AND at column 1" },
    { "a.basename()=x", "functions such as basename() are not supported at column 11" },
    { "a='x", "a ' is not closed at column 3" },
    { "=x", "expected a key, not '=' at column 1" },
    { "a[x]=1", "expected [N] or [] in the key at column 2" },
    { "t>P1Y", "durations in years or months are not supported (use W, D, H, M, S) at column 3" },
    { "t>P1X", "a duration is P[nW][nD][T[nH][nM][nS]], e.g. -P1D or -PT2H at column 3" },
    { "name~(x", "bad regular expression: a ( is not closed at column 6" },
    { "name~'ab)'", "bad regular expression: unbalanced ) at column 9" },
    { "name~ab)", "')' without its '(' at column 8" },
    { "name~'a**'", "bad regular expression: a quantifier cannot follow another (possessive ones are not "
      .. "supported) at column 9" },
    { "é=1 x~[z-a]", "bad regular expression: the range is backwards at column 9" }, -- columns count characters
  }
  for _, case in ipairs(cases) do
    it(("%q: %s"):format(case[1], case[2] or "is fine"), function()
      local match, err = filter.compile(case[1])
      if case[2] == nil then
        assert.is_function(match)
      else
        assert.is_nil(match)
        assert.are.equal(case[2], err)
      end
    end)
  end

  it("raises for a text that is not a string", function()
    assert.has_error(function() filter.compile(42) end, "bad argument #1 to 'compile' (string expected, got number)")
  end)
end)

describe("regular expressions (a subset of Python's re)", function()
  -- { pattern, subject, whether it matches somewhere }
  local cases = {
    { "abc", "xxabcxx", true }, { "^abc", "xabc", false }, { "abc$", "xabc\n", true }, { "abc$", "abcx", false },
    { "a.c", "abc", true }, { "a.c", "a\nc", false }, { "a[0-9]+b", "a123b", true }, { "a[^0-9]+b", "a123b", false },
    { "[]a]", "]", true }, { "[a-]", "-", true }, { "[\\d.]+x", "1.5x", true }, { "[\\s]", "a b", true },
    { "(ab|cd)*e", "ababcde", true }, { "^(ab|cd)+$", "abcx", false }, { "colou?r", "color", true },
    { "(?:ab){2}", "abab", true }, { "^x{2,3}$", "xxxx", false }, { "^x{2,}$", "xxxx", true }, { "^x{,2}$", "", true },
    { "a{", "a{", true }, { "x*?y", "xxy", true }, { "x+?", "x", true },
    { "(?i)REPORT", "report", true }, { "(?i)[A-C]x", "bx", true }, { "REPORT", "report", false },
    { "\\d\\D\\w\\W\\s\\S", "1a_ _x", false }, { "\\d\\D\\w\\W\\s\\S", "1ab- x", true },
    { "\\bfoo\\b", "a foo.", true }, { "\\bfoo\\b", "afoo", false }, { "\\Bfoo", "afoo", true },
    { "\\Aab\\Z", "ab", true }, { "\\Aab\\Z", "ab\n", false }, { "\\x41\\u00e9", "Aé", true },
    { "a\\.b", "axb", false }, { "a\\.b", "a.b", true }, { "\\t", "\t", true },
    { "^é.$", "éà", true }, { "^.$", "€", true }, { "[à-é]", "è", true }, { "[^é]", "é", false },
    { "", "", true }, { "a|", "zz", true }, { "(a*)*b", ("a"):rep(5000) .. "c", false },
  }
  for _, case in ipairs(cases) do
    it(("%q %s %q"):format(case[1], case[3] and "matches" or "does not match", case[2]), function()
      local m = assert(regex.compile(case[1]))
      assert.are.equal(case[3], m(case[2]))
    end)
  end

  -- { pattern, message, byte offset in the pattern }
  local refused = {
    { "a**", "a quantifier cannot follow another (possessive ones are not supported)", 3 },
    { "*a", "nothing to repeat before *", 1 }, { "^*", "nothing to repeat before the quantifier", 2 },
    { "(ab", "a ( is not closed", 1 }, { "ab)", "unbalanced )", 3 }, { "[abc", "a [ is not closed", 1 },
    { "\\1", "backreferences (\\1) are not supported", 1 }, { "(?=a)", "lookaround (?=a) is not supported", 1 },
    { "(?<!a)", "lookaround (?<!) is not supported", 1 }, { "(?P<x>a)", "named groups are not supported", 1 },
    { "x(?i)", "inline flags and (?...) groups other than (?:...) and a leading (?i) are not supported", 2 },
    { "a{3,2}", "the repeat range is backwards", 2 }, { "[z-a]", "the range is backwards", 3 },
    { "\\q", "bad escape \\q", 1 }, { "a\\", "a pattern cannot end with \\", 2 }, { "\\x4", "\\x needs 2 hex digits", 1 },
    { "[[:alpha:]]", "POSIX classes such as [:alpha:] are not supported (use \\d, \\w, \\s or a range)", 2 },
    { "a{1001}", "a repeat count above 1000", 2 },
    { "(a{1000}){30}", "the pattern is too large once its repeats are counted", 1 },
  }
  for _, case in ipairs(refused) do
    it(("refuses %q: %s"):format(case[1], case[2]), function()
      local m, why, offset = regex.compile(case[1])
      assert.is_nil(m)
      assert.are.equal(case[2], why)
      assert.are.equal(case[3], offset)
    end)
  end
end)

describe("sort keys", function()
  local function names(list)
    local out = {}
    for i, r in ipairs(list) do out[i] = r.n end
    return table.concat(out, " ")
  end
  local function sorted(spec, list)
    return names(assert(filter.sorter(spec))(list))
  end

  it("sorts by fields in turn, ~ descending, stably, missing values first", function()
    local list = { { n = "b", t = 2 }, { n = "a", t = 2 }, { n = "c" }, { n = "d", t = 1 } }
    assert.are.equal("c d b a", sorted("t", list))
    assert.are.equal("a b d c", sorted("~t,n", list))
    assert.are.equal("a b d c", sorted(" ~t , n ", list))
  end)

  it("orders times by their instant, numbers as numbers, text by bytes", function()
    assert.are.equal("late early", sorted("~createTime", { { n = "early", createTime = "2026-11-02T08:00:00Z" },
      { n = "late", createTime = "2026-11-02T08:00:00.5Z" } }))
    assert.are.equal("two ten", sorted("c", { { n = "ten", c = 10 }, { n = "two", c = 2 } }))
    assert.are.equal("B a", sorted("s", { { n = "a", s = "a" }, { n = "B", s = "B" } }))
    assert.are.equal("first second", sorted("l.x", { { n = "second", l = { x = "b" } }, { n = "first", l = { x = "a" } } }))
  end)

  it("says what is wrong and where", function()
    assert.are.same({ nil, "expected a key, not ',' at column 3" }, { filter.sorter("a,,b") })
    assert.are.same({ nil, "expected ',' or the end after a field, not 'b' at column 3" }, { filter.sorter("a b") })
    assert.are.same({ nil, "expected a key at column 1" }, { filter.sorter("") })
  end)
end)

-- Three jobs, and executions of two of them, in the emulator.
local function seeded_emulator()
  -- the template's labels are copied onto each execution, as Cloud Run does
  local alpha = h.sh_job("alpha", "exit 0", { taskCount = 2, labels = { env = "prod" } })
  local beta = h.sh_job("beta", "exit 0")
  alpha.labels, beta.labels = { env = "prod", team = "data" }, { env = "dev" }
  local emu = h.emulator{ jobs = { alpha, beta, h.sh_job("gamma", "exit 3") } }
  local client = h.client(emu.host)
  for _, job in ipairs({ "alpha", "gamma", "alpha" }) do
    assert(client:wait(assert(client:run_job(job)), { timeout = 60 }))
  end
  return emu, client
end

describe("each_* with filter =", function()
  local emu, client

  setup(function() emu, client = seeded_emulator() end)
  teardown(function() if emu then emu.stop() end end)

  local function names(iter)
    local out = {}
    for r in iter do out[#out + 1] = r.name:match("[^/]+$") end
    table.sort(out)
    return table.concat(out, " ")
  end

  it("takes an expression", function()
    assert.are.equal("alpha", names(client:each_jobs({ filter = "labels.env=prod" })))
    assert.are.equal("alpha gamma", names(client:each_jobs({ filter = "labels.env=prod OR NOT labels:*" })))
    local ok = names(client:each_executions("alpha", { filter = "labels.env=prod AND succeededCount>0" }))
    assert.are.equal(2, select(2, ok:gsub("alpha%-", "")))
    assert.are.equal("", names(client:each_executions(nil, { filter = "failedCount>0 AND job=alpha" })))
    assert.matches("^gamma%-", names(client:each_executions(nil, { filter = "failedCount>0" })))
  end)

  it("takes a predicate, which sees the counts the API leaves out as 0", function()
    local seen = 0
    local got = names(client:each_executions(nil, { filter = function(e)
      seen = seen + 1
      return e.succeededCount == 0
    end }))
    assert.are.equal(3, seen)
    assert.matches("^gamma%-[%w]+$", got)
  end)

  it("goes on past pages that hold nothing it keeps", function()
    local exec = names(client:each_executions("alpha", { page_size = 1 }))
    local last = exec:match("(%S+)$")
    assert.are.equal(last, names(client:each_executions(nil, { page_size = 1, filter = "name:" .. last })))
    assert.are.equal("", names(client:each_jobs({ page_size = 1, filter = "labels.env=none" })))
  end)

  it("filters tasks too", function()
    local e = client:each_executions("alpha")()
    assert.matches("task1$", names(client:each_tasks(e.name, { filter = "index=1" })))
  end)

  it("raises for a bad expression or value, naming the argument and the place", function()
    assert.has_error(function() client:each_jobs({ filter = "labels.env=" }) end,
      "bad argument #1 to 'each_jobs' (option 'filter': expected a value after '=' at column 12)")
    assert.has_error(function() client:each_executions("alpha", { filter = 42 }) end,
      "bad argument #2 to 'each_executions' (option 'filter' must be a function or a filter expression, got number)")
  end)
end)

describe("cloudrun list commands with gcloud's list flags", function()
  local emu

  setup(function() emu = seeded_emulator() end)
  teardown(function() if emu then emu.stop() end end)

  -- stdout and stderr together, or (stdout_only) stdout alone
  local function run(args, stdout_only)
    return h.run(("CLOUD_RUN_EMULATOR_HOST=%s %s --project test-project --region us-central1 %s %s")
      :format(emu.host, CLI, args, stdout_only and "2>/dev/null" or "2>&1"))
  end

  local function lines(text)
    local out = {}
    for line in text:gmatch("[^\n]+") do out[#out + 1] = line end
    return out
  end

  it("--filter keeps what matches, in the table and in --format", function()
    local out, rc = run("jobs list --filter 'labels.env=prod OR NOT labels:*'", true)
    assert.are.equal(0, rc, out)
    local rows = lines(out)
    assert.are.equal(3, #rows, out)
    assert.matches("^JOB%s+REGION", rows[1])
    assert.is_nil(out:find("beta", 1, true))
    out, rc = run("jobs executions list --filter 'failedCount>0' --format 'value(job)'", true)
    assert.are.equal(0, rc, out)
    assert.are.equal("gamma\n", out)
    out, rc = run("jobs executions list --job alpha --filter 'succeededCount=2 AND job~^al' --format 'value(job)'", true)
    assert.are.equal(0, rc, out)
    assert.are.equal("alpha\nalpha\n", out)
  end)

  it("--sort-by sorts (~ descending) before --limit cuts", function()
    local out, rc = run("jobs list --sort-by '~name' --limit 2 --format 'value(name)'", true)
    assert.are.equal(0, rc, out)
    assert.are.same({ "projects/test-project/locations/us-central1/jobs/gamma",
      "projects/test-project/locations/us-central1/jobs/beta" }, lines(out))
    out = run("jobs list --sort-by labels.env,name --format 'value(name)'", true)
    assert.are.same({ "gamma", "beta", "alpha" }, lines(out:gsub("[^\n]*/", "")))
    out = run("jobs executions list --sort-by createTime --format 'value(job)'", true)
    assert.are.same({ "alpha", "gamma", "alpha" }, lines(out))
    out = run("jobs executions list --sort-by ~taskCount,createTime --limit 1 --format 'value(job)'", true)
    assert.are.same({ "alpha" }, lines(out))
  end)

  it("--limit stops after N matches", function()
    local out = run("jobs executions list --filter job=alpha --limit 1 --format 'value(job)'", true)
    assert.are.same({ "alpha" }, lines(out))
  end)

  it("--uri prints each resource's URL where the API serves it, one a line", function()
    local out, rc = run("jobs list --uri --filter labels.env:* --sort-by name", true)
    assert.are.equal(0, rc, out)
    assert.are.same({ "http://" .. emu.host .. "/v2/projects/test-project/locations/us-central1/jobs/alpha",
      "http://" .. emu.host .. "/v2/projects/test-project/locations/us-central1/jobs/beta" }, lines(out))
    -- each is the resource's own address
    local body, curl_rc = h.run("curl -sS " .. h.sh_quote(lines(out)[1]))
    assert.are.equal(0, curl_rc)
    assert.matches('"name": ?"projects/test%-project/locations/us%-central1/jobs/alpha"', body)
    local exec = lines(run("jobs executions list --job alpha --limit 1 --format 'value(name)'", true))[1]
    out = run("jobs executions tasks list --execution " .. exec:match("[^/]+$") .. " --uri --sort-by ~index", true)
    assert.are.same({ "http://" .. emu.host .. "/v2/" .. exec .. "/tasks/" .. exec:match("[^/]+$") .. "-task1",
      "http://" .. emu.host .. "/v2/" .. exec .. "/tasks/" .. exec:match("[^/]+$") .. "-task0" }, lines(out))
  end)

  it("--page-size is the pageSize of each list call", function()
    local function list_calls(args, rpc)
      h.control(emu.host, "DELETE", "stats")
      local out, rc = run(args)
      assert.are.equal(0, rc, out)
      return h.control(emu.host, "GET", "stats").calls[rpc]
    end
    assert.are.equal(1, list_calls("jobs list", "ListJobs"))
    assert.are.equal(3, list_calls("jobs list --page-size 1", "ListJobs"))
    assert.are.equal(2, list_calls("jobs list --page-size=2 --filter labels.env=dev", "ListJobs"))
    assert.are.equal(3, list_calls("jobs executions list --page-size 1", "ListExecutions"))
    -- without --sort-by, --limit stops fetching: one page of one holds the first match
    assert.are.equal(1, list_calls("jobs executions list --page-size 1 --limit 1", "ListExecutions"))
    assert.are.equal(3, list_calls("jobs executions list --page-size 1 --limit 1 --sort-by createTime",
      "ListExecutions"))
    local exec = lines(run("jobs executions list --job alpha --limit 1 --format 'value(name)'", true))[1]
    assert.are.equal(2, list_calls("jobs executions tasks list --page-size 1 --execution " .. exec:match("[^/]+$"),
      "ListTasks"))
  end)

  -- { arguments, exit status, what stderr says }
  local refused = {
    { "jobs list --filter 'labels.env='", "cloudrun: --filter: expected a value after '=' at column 12" },
    { "jobs list --filter 'name~(x'", "cloudrun: --filter: bad regular expression: a ( is not closed at column 6" },
    { "jobs list --sort-by 'a,,b'", "cloudrun: --sort-by: expected a key, not ',' at column 3" },
    { "jobs list --page-size 0", "cloudrun: --page-size must be a whole number of at least 1, not '0'" },
    { "jobs list --page-size 1000001", "cloudrun: --page-size must be at most 1000000" },
    { "jobs list --limit x", "cloudrun: --limit must be a whole number of at least 1, not 'x'" },
    { "jobs list --uri --format json", "cloudrun: --uri and --format cannot be used together" },
    { "jobs executions tasks list --execution x --uri=1", "cloudrun: flag --uri takes no value" },
  }
  for _, case in ipairs(refused) do
    it("'" .. case[1] .. "' exits 2: " .. case[2], function()
      local out, rc = run(case[1])
      assert.are.equal(2, rc, out)
      assert.are.equal(case[2], lines(out)[1])
    end)
  end

  it("every list command's help names the list flags", function()
    for _, cmd in ipairs({ "jobs list", "jobs executions list", "jobs executions tasks list" }) do
      local out, rc = h.run(CLI .. " " .. cmd .. " --help")
      assert.are.equal(0, rc, out)
      for _, flag in ipairs({ "--filter=EXPRESSION", "--sort-by=FIELD,...", "--limit=N", "--page-size=N", "--uri" }) do
        assert.matches(flag, out, 1, true)
      end
    end
  end)
end)
