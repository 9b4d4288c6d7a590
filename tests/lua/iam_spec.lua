-- IAM on jobs (issue 22): client:get_iam_policy / set_iam_policy / test_iam_permissions
-- against the emulator; cloudrun.iam's binding changes and its read-modify-write under
-- ABORTED; the CLI's get-iam-policy, set-iam-policy, add- and remove-iam-policy-binding;
-- the same sequence against the emulator and against the fake Google (with credentials),
-- whose answers must agree; and every request those sent held to Google's protos
-- (google.iam.v1.*Request, through tests/node/proto_check.js).
local cloudrun = require("cloudrun")
local iam = require("cloudrun.iam")
local h = require("helpers")
local proto = require("proto_check")

local CLI = h.sh_quote(h.bin .. "/cloudrun")
local FAKE = assert(os.getenv("CR_FAKE_GOOGLE"), "CR_FAKE_GOOGLE: the cr-fake-google binary")
local SA = "serviceAccount:web@test-project.iam.gserviceaccount.com"

local function create(client, name)
  local spec = { template = { template = { containers = { { image = "example/x", command = { "true" } } } } } }
  local op = assert(client:create_job(name, spec))
  if not op.done then assert(client:wait_operation(op, 30)) end
end

-- The field a google.rpc.BadRequest detail names.
local function violation(err)
  for _, d in ipairs(err.details or {}) do
    local v = (d.fieldViolations or {})[1]
    if v then return v.field end
  end
end

describe("IAM on a job, from Lua, against the emulator", function()
  local emu, client

  setup(function()
    emu = h.emulator()
    client = h.client(emu.host)
    create(client, "report")
  end)

  teardown(function()
    if emu then emu.stop() end
  end)

  it("a new job's policy has no bindings, version 1 and Cloud IAM's empty etag", function()
    local p = assert(client:get_iam_policy("report"))
    assert.are.same({ version = 1, etag = "ACAB" }, p)
    local none, err = client:get_iam_policy("missing")
    assert.is_nil(none)
    assert.are.equal("NOT_FOUND", err.code)
    assert.are.equal(404, err.status)
  end)

  it("a set answers the new policy with a new etag, every time; a stale etag is ABORTED (409)", function()
    local p = assert(client:get_iam_policy("report"))
    p.bindings = { { role = "roles/run.invoker", members = { "user:ana@example.com" } } }
    local first = assert(client:set_iam_policy("report", p))
    assert.are_not.equal(p.etag, first.etag)
    assert.are.same(p.bindings, first.bindings)
    assert.are.same(first, assert(client:get_iam_policy("report")))
    local again = assert(client:set_iam_policy("report", first)) -- the same policy: still a new etag
    assert.are_not.equal(first.etag, again.etag)
    local stale, err = client:set_iam_policy("report", first)
    assert.is_nil(stale)
    assert.are.equal("ABORTED", err.code)
    assert.are.equal(409, err.status)
    -- without an etag the policy is replaced whatever it was
    local blind = assert(client:set_iam_policy("report", { bindings = {} }))
    assert.is_nil(blind.bindings)
    assert.matches("^Bw", blind.etag)
  end)

  it("members of every kind are taken; anything else is refused naming it", function()
    local good = {
      "user:ana@example.com", SA, "group:ops@example.com", "domain:example.com", "allUsers",
      "allAuthenticatedUsers", "principal://iam.googleapis.com/locations/global/workforcePools/p/subject/ana",
      "principalSet://iam.googleapis.com/projects/1/locations/global/workloadIdentityPools/p/*",
      "deleted:user:old@example.com?uid=123456789", "deleted:serviceAccount:gone@p.iam.gserviceaccount.com?uid=42",
      "deleted:group:was@example.com?uid=7", "deleted:principal://iam.googleapis.com/locations/global/x/y",
    }
    local p = assert(client:set_iam_policy("report", { bindings = { { role = "roles/run.viewer", members = good } } }))
    assert.are.same(good, p.bindings[1].members)
    for _, bad in ipairs({ "ana@example.com", "user:", "user:ana", "user:@example.com", "serviceAccount:web",
      "domain:localhost", "allusers", "principal://", "deleted:user:old@example.com", "deleted:domain:example.com",
      "group:a b@example.com", "" }) do
      local none, err = client:set_iam_policy("report", { bindings = {
        { role = "roles/run.viewer", members = { "user:ok@example.com", bad } } } })
      assert.is_nil(none, bad)
      assert.are.equal("INVALID_ARGUMENT", err.code, bad)
      assert.are.equal("policy.bindings[0].members[1]", violation(err), bad)
    end
  end)

  it("roles are roles/NAME, projects/P/roles/NAME or organizations/N/roles/NAME", function()
    for _, role in ipairs({ "roles/run.invoker", "roles/run.jobsExecutorWithOverrides", "projects/my-proj/roles/runner",
      "projects/example.com:app/roles/x_y", "organizations/1234/roles/custom.role" }) do
      assert(client:set_iam_policy("report", { bindings = { { role = role, members = { SA } } } }), role)
    end
    for _, role in ipairs({ "run.invoker", "roles/", "roles/a b", "projects//roles/x", "organizations/acme/roles/x",
      "projects/p/roles/", "folders/1/roles/x", "roles/run.invoker_withcond_0123456789abcdef0123" }) do
      local none, err = client:set_iam_policy("report", { bindings = { { role = role, members = { SA } } } })
      assert.is_nil(none, role)
      assert.are.equal("INVALID_ARGUMENT", err.code, role)
      assert.are.equal("policy.bindings[0].role", violation(err), role)
    end
  end)

  it("bindings of one role and condition are merged, members once each, empty ones dropped", function()
    local p = assert(client:set_iam_policy("report", { bindings = {
      { role = "roles/run.invoker", members = { "user:a@example.com", "user:a@example.com" } },
      { role = "roles/run.viewer", members = {} },
      { role = "roles/run.invoker", members = { "user:b@example.com", "user:a@example.com" } },
    } }))
    assert.are.same({ { role = "roles/run.invoker", members = { "user:a@example.com", "user:b@example.com" } } },
      p.bindings)
  end)

  it("conditions need version 3, come back untouched at 3 and as _withcond_ roles at 1", function()
    local condition = { title = "until 2030", description = "a while",
      expression = 'request.time < timestamp("2030-01-01T00:00:00Z")' }
    local binding = { role = "roles/run.invoker", members = { SA }, condition = condition }
    local none, err = client:set_iam_policy("report", { bindings = { binding } })
    assert.is_nil(none)
    assert.are.equal("policy.version", violation(err))
    local p = assert(client:set_iam_policy("report", { version = 3, bindings = { binding } }))
    assert.are.equal(3, p.version)
    assert.are.same(condition, p.bindings[1].condition)
    assert.are.same(p, assert(client:get_iam_policy("report"))) -- version 3 unless asked
    local v1 = assert(client:get_iam_policy("report", { requested_policy_version = 1 }))
    assert.are.equal(1, v1.version)
    assert.matches("^roles/run%.invoker_withcond_%x+$", v1.bindings[1].role)
    assert.is_nil(v1.bindings[1].condition)
    -- a change made from that view would drop the condition: refused
    none, err = client:set_iam_policy("report", v1)
    assert.is_nil(none)
    assert.are.equal("INVALID_ARGUMENT", err.code)
    none, err = client:set_iam_policy("report", { version = 3, bindings = { { role = "roles/run.invoker",
      members = { SA }, condition = { expression = "true" } } } })
    assert.is_nil(none)
    assert.are.equal("policy.bindings[0].condition", violation(err))
  end)

  it("an update mask picks the fields set: bindings, etag, version, auditConfigs", function()
    local p = assert(client:set_iam_policy("report", { bindings = { { role = "roles/run.viewer", members = { SA } } } }))
    local kept = assert(client:set_iam_policy("report", { etag = p.etag, bindings = {} }, "etag"))
    assert.are.same(p.bindings, kept.bindings) -- bindings were not in the mask
    local cleared = assert(client:set_iam_policy("report", { etag = kept.etag, bindings = {} }, "bindings,etag"))
    assert.is_nil(cleared.bindings)
    local none, err = client:set_iam_policy("report", { bindings = {} }, "members")
    assert.is_nil(none)
    assert.are.equal("update_mask", violation(err))
    none, err = client:set_iam_policy("report", { bindings = {} }, "bindings, etag")
    assert.is_nil(none) -- refused before anything is sent
    assert.matches("is not a FieldMask", err.message)
    none, err = client:set_iam_policy("report", { auditConfigs = { { service = "allServices" } } })
    assert.is_nil(none)
    assert.are.equal("policy.audit_configs", violation(err))
  end)

  it("testIamPermissions answers the run.jobs.* permissions asked about: the emulator authorises nothing", function()
    local t = assert(client:test_iam_permissions("report", { "run.jobs.run", "run.jobs.runWithOverrides",
      "storage.objects.get", "run.jobs.run" }))
    assert.are.same({ permissions = { "run.jobs.run", "run.jobs.runWithOverrides" } }, t)
    assert.are.same({}, assert(client:test_iam_permissions("report", { "iam.serviceAccounts.actAs" })))
    assert.are.same({}, assert(client:test_iam_permissions("report", {})))
    local none, err = client:test_iam_permissions("report", { "run.jobs.*" })
    assert.is_nil(none)
    assert.are.equal("permissions[0]", violation(err))
  end)

  it("a deleted job takes its policy with it; the same name starts afresh", function()
    create(client, "brief")
    local p = assert(client:set_iam_policy("brief", { bindings = { { role = "roles/run.invoker", members = { SA } } } }))
    local op = assert(client:delete_job("brief"))
    if not op.done then assert(client:wait_operation(op, 30)) end
    create(client, "brief")
    assert.are.same({ version = 1, etag = "ACAB" }, assert(client:get_iam_policy("brief")))
    local none, err = client:set_iam_policy("brief", p) -- the old etag is not the new policy's
    assert.is_nil(none)
    assert.are.equal("ABORTED", err.code)
  end)

  it("misuse raises, naming the argument", function()
    assert.has_error(function() client:set_iam_policy("report", "policy") end,
      "bad argument #2 to 'set_iam_policy' (policy table expected, got string)")
    assert.has_error(function() client:set_iam_policy("report", {}, 3) end)
    assert.has_error(function() client:test_iam_permissions("report", "run.jobs.run") end)
    assert.has_error(function() client:test_iam_permissions("report", { 1 }) end)
    assert.has_error(function() client:get_iam_policy("report", { requested_policy_version = 5 }) end)
    assert.has_error(function() client:get_iam_policy("report", { version = 3 }) end)
    local none, err = client:get_iam_policy("report", { requested_policy_version = 2 })
    assert.is_nil(none)
    assert.matches("must be 1 or 3", err.message)
  end)
end)

describe("cloudrun.iam", function()
  local cond = { expression = "true", title = "t" }

  it("add_binding adds a member once, to the binding of its role and condition", function()
    local p = { version = 1, etag = "ACAB" }
    assert.is_true(iam.add_binding(p, SA, "roles/run.invoker"))
    assert.is_false(iam.add_binding(p, SA, "roles/run.invoker"))
    assert.is_true(iam.add_binding(p, "user:a@example.com", "roles/run.invoker"))
    assert.is_true(iam.add_binding(p, SA, "roles/run.invoker", cond))
    assert.are.same({ version = 3, etag = "ACAB", bindings = {
      { role = "roles/run.invoker", members = { SA, "user:a@example.com" } },
      { role = "roles/run.invoker", members = { SA }, condition = { expression = "true", title = "t" } },
    } }, p)
    assert.is_true(iam.has_conditions(p))
  end)

  it("remove_binding takes a member away, drops bindings left empty, and says when there was none", function()
    local p = { bindings = { { role = "roles/run.invoker", members = { SA } },
      { role = "roles/run.invoker", members = { SA, "user:a@example.com" }, condition = cond } } }
    assert.is_false(iam.remove_binding(p, "user:z@example.com", "roles/run.invoker"))
    assert.is_nil(p.version) -- unchanged, untouched
    assert.is_true(iam.remove_binding(p, SA, "roles/run.invoker"))
    assert.are.equal(1, #p.bindings)
    assert.is_true(iam.remove_binding(p, SA, "roles/run.invoker", "all"))
    assert.are.same({ "user:a@example.com" }, p.bindings[1].members)
    assert.is_true(iam.remove_binding(p, "user:a@example.com", "roles/run.invoker", cond))
    assert.are.equal("[]", cloudrun.json.encode(p.bindings)) -- still a list for the API
  end)

  it("misuse raises", function()
    assert.has_error(function() iam.add_binding({}, nil, "roles/x") end)
    assert.has_error(function() iam.add_binding({}, SA, "") end)
    assert.has_error(function() iam.add_binding({}, SA, "roles/x", "all") end)
    assert.has_error(function() iam.modify({}, "j", "not a function") end)
  end)

  describe("modify", function()
    local emu, client, other

    setup(function()
      emu = h.emulator()
      client, other = h.client(emu.host), h.client(emu.host)
      create(client, "report")
    end)

    teardown(function()
      if emu then emu.stop() end
    end)

    local function calls()
      local s = h.control(emu.host, "GET", "stats")
      return s.calls.GetIamPolicy or 0, s.calls.SetIamPolicy or 0
    end

    it("starts again when the policy changed meanwhile (ABORTED), and keeps both changes", function()
      local g0, s0 = calls()
      local first = true
      local p = assert(iam.modify(client, "report", function(policy)
        if first then -- someone else grants a role between our read and our write
          first = false
          assert(iam.modify(other, "report", function(q) return iam.add_binding(q, "user:b@example.com", "roles/run.viewer") end))
        end
        return iam.add_binding(policy, SA, "roles/run.jobsExecutorWithOverrides")
      end, { delay = 0 }))
      assert.are.equal(2, #p.bindings)
      local g1, s1 = calls()
      assert.are.equal(3, g1 - g0) -- ours twice, theirs once
      assert.are.equal(3, s1 - s0) -- ours refused, theirs, ours again
    end)

    it("gives up after `attempts`, with the ABORTED err", function()
      local _, s0 = calls()
      local p, err = iam.modify(client, "report", function(policy)
        assert(other:set_iam_policy("report", { bindings = {} })) -- always in the way
        return iam.add_binding(policy, SA, "roles/run.invoker")
      end, { attempts = 3, delay = 0 })
      assert.is_nil(p)
      assert.are.equal("ABORTED", err.code)
      local _, s1 = calls()
      assert.are.equal(6, s1 - s0) -- three of theirs, three of ours
    end)

    it("sets nothing when the change asks for nothing, and stops with the change's err", function()
      assert(iam.modify(client, "report", function(q) return iam.add_binding(q, SA, "roles/run.invoker") end))
      local _, s0 = calls()
      local p = assert(iam.modify(client, "report", function(q) return iam.add_binding(q, SA, "roles/run.invoker") end))
      assert.are.equal(SA, p.bindings[1].members[1])
      local none, err = iam.modify(client, "report", function() return nil, "no thanks" end)
      assert.is_nil(none)
      assert.are.equal("no thanks", err)
      local _, s1 = calls()
      assert.are.equal(s0, s1)
    end)
  end)
end)

describe("the IAM commands", function()
  local emu, dir

  setup(function()
    emu = h.emulator()
    dir = h.tmpdir()
    create(h.client(emu.host), "report")
  end)

  teardown(function()
    if emu then emu.stop() end
    os.execute("rm -rf " .. h.sh_quote(dir))
  end)

  local function run(args, input)
    return h.run(("cd %s && CLOUD_RUN_EMULATOR_HOST=%s GOOGLE_CLOUD_PROJECT=test-project CLOUDSDK_RUN_REGION=us-central1 "
      .. "%s %s %s 2>&1"):format(h.sh_quote(dir), emu.host, CLI, args, input and ("< " .. h.sh_quote(input)) or "</dev/null"))
  end

  it("get-iam-policy prints the policy as YAML, or as --format says", function()
    local out, rc = run("jobs get-iam-policy report")
    assert.are.equal(0, rc, out)
    assert.are.equal("etag: ACAB\nversion: 1\n", out)
    out, rc = run("jobs get-iam-policy report --format 'value(etag)'")
    assert.are.equal(0, rc, out)
    assert.are.equal("ACAB\n", out)
    out, rc = run("jobs get-iam-policy missing")
    assert.are.equal(3, rc)
    assert.matches("ERROR: NOT_FOUND", out)
  end)

  it("add-iam-policy-binding grants, says so, prints the policy; twice is harmless", function()
    local out, rc = run("jobs add-iam-policy-binding report --member " .. SA .. " --role roles/run.jobsExecutorWithOverrides")
    assert.are.equal(0, rc, out)
    assert.matches("^Updated IAM policy for job %[report%]%.\nbindings:\n%- members:\n  %- " .. SA:gsub("%p", "%%%0")
      .. "\n  role: roles/run%.jobsExecutorWithOverrides\netag: Bw", out)
    out, rc = run("jobs add-iam-policy-binding report --member=" .. SA .. " --role=roles/run.jobsExecutorWithOverrides "
      .. "--format json")
    assert.are.equal(0, rc, out)
    assert.are.equal(1, #cloudrun.json.decode(out:match("(%b{})")).bindings[1].members)
    out, rc = run("jobs add-iam-policy-binding report --role roles/run.invoker")
    assert.are.equal(2, rc)
    assert.matches("needs %-%-member", out)
    out, rc = run("jobs add-iam-policy-binding report --member bob --role roles/run.invoker")
    assert.are.equal(3, rc)
    assert.matches("Policy members must be of the form", out)
  end)

  it("conditions: --condition, --condition-from-file, and None once the policy has some", function()
    local out, rc = run("jobs add-iam-policy-binding report --member user:c@example.com --role roles/run.invoker "
      .. "--condition '^;^expression=request.time < timestamp(\"2030-01-01T00:00:00Z\");title=until 2030'")
    assert.are.equal(0, rc, out)
    assert.matches("condition:\n    expression: request.time < timestamp%(\"2030%-01%-01T00:00:00Z\"%)\n    title: until 2030",
      out)
    out, rc = run("jobs add-iam-policy-binding report --member user:d@example.com --role roles/run.invoker")
    assert.are.equal(2, rc)
    assert.matches("conditional bindings: give %-%-condition=None", out)
    out, rc = run("jobs add-iam-policy-binding report --member user:d@example.com --role roles/run.invoker --condition None")
    assert.are.equal(0, rc, out)
    h.write(dir .. "/cond.yaml", "expression: request.time < timestamp(\"2030-01-01T00:00:00Z\")\ntitle: until 2030\n")
    out, rc = run("jobs remove-iam-policy-binding report --member user:c@example.com --role roles/run.invoker "
      .. "--condition-from-file cond.yaml")
    assert.are.equal(0, rc, out)
    assert.not_matches("user:c@", out)
    out, rc = run("jobs add-iam-policy-binding report --member user:d@example.com --role r --condition title=x")
    assert.are.equal(2, rc)
    assert.matches("needs an expression and a title", out)
  end)

  it("remove-iam-policy-binding takes it away; a binding that is not there is NOT_FOUND (exit 3)", function()
    local out, rc = run("jobs remove-iam-policy-binding report --member user:d@example.com --role roles/run.invoker")
    assert.are.equal(0, rc, out)
    out, rc = run("jobs remove-iam-policy-binding report --member user:d@example.com --role roles/run.invoker")
    assert.are.equal(3, rc)
    assert.matches("ERROR: NOT_FOUND: Policy binding with the specified principal, role, and condition not found!", out)
    out, rc = run("jobs remove-iam-policy-binding report --member " .. SA .. " --role roles/run.jobsExecutorWithOverrides --all")
    assert.are.equal(0, rc, out)
  end)

  it("set-iam-policy takes get-iam-policy's YAML or JSON back; a stale etag fails; none asks first", function()
    assert(run("jobs add-iam-policy-binding report --member " .. SA .. " --role roles/run.invoker"))
    local yaml = run("jobs get-iam-policy report")
    h.write(dir .. "/policy.yaml", yaml)
    local out, rc = run("jobs set-iam-policy report policy.yaml")
    assert.are.equal(0, rc, out)
    assert.matches("^Updated IAM policy for job %[report%]%.\nbindings:", out)
    out, rc = run("jobs set-iam-policy report policy.yaml") -- its etag is old now
    assert.are.equal(3, rc)
    assert.matches("ERROR: ABORTED", out)
    local current = cloudrun.json.decode(run("jobs get-iam-policy report --format json"))
    current.bindings[1].members[2] = "group:ops@example.com"
    h.write(dir .. "/policy.json", cloudrun.json.encode(current))
    out, rc = run("jobs set-iam-policy report policy.json --format json")
    assert.are.equal(0, rc, out)
    assert.are.same({ SA, "group:ops@example.com" }, cloudrun.json.decode(out:match("(%b{})")).bindings[1].members)
    h.write(dir .. "/blind.yaml", "bindings: []\n")
    out, rc = run("jobs set-iam-policy report blind.yaml")
    assert.are.equal(2, rc)
    assert.matches('does not contain an "etag" field', out)
    out, rc = run("jobs set-iam-policy report blind.yaml --quiet")
    assert.are.equal(0, rc, out)
    h.write(dir .. "/list.yaml", "- a\n")
    out, rc = run("jobs set-iam-policy report list.yaml")
    assert.are.equal(2, rc)
    assert.matches("a Policy", out)
    out, rc = run("jobs set-iam-policy report nowhere.yaml")
    assert.are.equal(2, rc)
    assert.matches("policy file nowhere.yaml", out)
  end)

  it("a binding change read while another one lands starts again (ABORTED, retried as gcloud)", function()
    -- the CLI's read is answered late; meanwhile the policy changes, so its write is refused once
    h.control(emu.host, "POST", "faults", { method = "GetIamPolicy", fault = "delay", delay_ms = 800 })
    local before = h.control(emu.host, "GET", "stats").calls
    local p = io.popen(("CLOUD_RUN_EMULATOR_HOST=%s GOOGLE_CLOUD_PROJECT=test-project CLOUDSDK_RUN_REGION=us-central1 "
      .. "%s jobs add-iam-policy-binding report --member user:late@example.com --role roles/run.viewer 2>&1; "
      .. "echo \"rc=$?\""):format(emu.host, CLI))
    os.execute("sleep 0.3")
    local c = h.client(emu.host)
    assert(iam.modify(c, "report", function(q) return iam.add_binding(q, "user:early@example.com", "roles/run.viewer") end))
    local out = p:read("*a")
    p:close()
    assert.matches("rc=0", out)
    local after = h.control(emu.host, "GET", "stats").calls
    assert.are.equal((before.SetIamPolicy or 0) + 3, after.SetIamPolicy) -- ours, the CLI's refused one, its retry
    local members = assert(c:get_iam_policy("report")).bindings
    local viewers
    for _, b in ipairs(members) do if b.role == "roles/run.viewer" then viewers = b.members end end
    assert.are.same({ "user:early@example.com", "user:late@example.com" }, viewers)
  end)

  it("every command's help names its flags", function()
    for cmd, flags in pairs({ ["get-iam-policy"] = {}, ["set-iam-policy"] = { "POLICY_FILE" },
      ["add-iam-policy-binding"] = { "--member=PRINCIPAL", "--role=ROLE", "--condition=", "--condition-from-file" },
      ["remove-iam-policy-binding"] = { "--member=PRINCIPAL", "--role=ROLE", "--all" } }) do
      local out, rc = run("jobs " .. cmd .. " --help")
      assert.are.equal(0, rc, out)
      assert.matches("usage: cloudrun jobs " .. cmd:gsub("%-", "%%-"), out)
      for _, f in ipairs(flags) do assert.matches(f:gsub("%p", "%%%0"), out, 1, false) end
    end
  end)
end)

describe("the emulator and the fake Google agree on the IAM methods", function()
  local emu, fake, dir

  setup(function()
    dir = h.tmpdir()
    local out, rc = h.run(("cd %s && openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out key.pem 2>&1 && "
      .. "openssl pkey -in key.pem -pubout -out pub.pem 2>&1"):format(h.sh_quote(dir)))
    assert(rc == 0, out)
    local s = h.spawn(("%s --port 0 --public-key %s"):format(h.sh_quote(FAKE), h.sh_quote(dir .. "/pub.pem")),
      "^fake%-google listening on 127%.0%.0%.1:(%d+)$")
    fake = { port = s.match, stop = function() h.stop(s.pid, s.pipe) end }
    h.write(dir .. "/sa.json", cloudrun.json.encode({
      type = "service_account", project_id = "test-project", private_key_id = "kid-1",
      private_key = assert(h.read(dir .. "/key.pem")), client_email = "deployer@test-project.iam.gserviceaccount.com",
      client_id = "1", token_uri = "http://127.0.0.1:" .. fake.port .. "/token",
    }))
    emu = h.emulator()
    local c = h.client(emu.host)
    create(c, "report")
    create(c, "brief")
  end)

  teardown(function()
    if fake then fake.stop() end
    if emu then emu.stop() end
    os.execute("rm -rf " .. h.sh_quote(dir))
  end)

  local function fake_client()
    return assert(cloudrun.client{ project = "test-project", region = "us-central1",
      endpoint = "http://127.0.0.1:" .. fake.port, credentials = dir .. "/sa.json" })
  end

  -- Etags are the servers' own: each becomes "etag-N" by order of first sight (ACAB stays).
  local function normalized(v, seen)
    if type(v) ~= "table" then return v end
    local out = {}
    for k, x in pairs(v) do
      if k == "etag" and type(x) == "string" and x ~= "ACAB" then
        if not seen[x] then seen.n = (seen.n or 0) + 1; seen[x] = "etag-" .. seen.n end
        out[k] = seen[x]
      else
        out[k] = normalized(x, seen)
      end
    end
    return out
  end

  -- One sequence of calls; what each answered (values, or err's code, status and message).
  local function sequence(client)
    local seen, results = {}, {}
    local function record(v, err)
      results[#results + 1] = v and normalized(v, seen)
        or { code = err.code, status = err.status, message = err.message, field = violation(err) }
      return v
    end
    local p = record(client:get_iam_policy("report"))
    p.bindings = { { role = "roles/run.invoker", members = { SA, SA } } }
    local set = record(client:set_iam_policy("report", p))
    record(client:set_iam_policy("report", p)) -- stale
    record(client:set_iam_policy("report", { bindings = { { role = "roles/run.invoker", members = { "bob" } } } }))
    record(client:set_iam_policy("report", { bindings = { { role = "run.invoker", members = { SA } } } }))
    record(client:set_iam_policy("report", { etag = set.etag, version = 3, bindings = { { role = "roles/run.invoker",
      members = { SA }, condition = { expression = "true", title = "always" } } } }, "bindings,etag,version"))
    record(client:get_iam_policy("report", { requested_policy_version = 1 }))
    record(client:get_iam_policy("report"))
    record(client:set_iam_policy("report", { bindings = {} }, "bindings,nope"))
    record(client:set_iam_policy("report", { auditConfigs = { { service = "allServices" } } }))
    record(client:test_iam_permissions("report", { "run.jobs.run", "run.jobs.get", "iam.roles.get" }))
    record(client:test_iam_permissions("report", { "run.jobs.*" }))
    record(client:test_iam_permissions("brief", {}))
    record(client:call("GET", "projects/test-project/locations/us-central1/jobs/brief:getIamPolicy",
      "options.requestedPolicyVersion=2"))
    record(client:call("GET", "projects/test-project/locations/us-central1/jobs/brief:getIamPolicy", "options.x=1"))
    record(client:call("POST", "projects/test-project/locations/us-central1/jobs/brief:setIamPolicy", nil,
      { policy = { etag = "not base64!" } }))
    record(iam.modify(client, "brief", function(q) return iam.add_binding(q, SA, "roles/run.jobsExecutorWithOverrides") end))
    return results
  end

  it("the same calls, the same answers (etags aside), through credentials to the fake", function()
    local from_emulator = sequence(h.client(emu.host))
    local from_fake = sequence(fake_client())
    assert.are.same(from_emulator, from_fake)
    assert.are.equal("ABORTED", from_fake[3].code)
    assert.are.equal("policy.bindings[0].members[0]", from_fake[4].field)
    assert.matches("_withcond_", from_fake[7].bindings[1].role)
    -- the fake saw a bearer token on every call
    assert.is_true(h.control_url("http://127.0.0.1:" .. fake.port .. "/stats").run_iam_requests >= #from_fake)
  end)

  it("the same CLI lines, the same output", function()
    local function cli(env, args)
      local out, rc = h.run(("env -u CLOUD_RUN_EMULATOR_HOST %s GOOGLE_CLOUD_PROJECT=test-project "
        .. "CLOUDSDK_RUN_REGION=us-central1 %s %s 2>&1 </dev/null"):format(env, CLI, args))
      return (out:gsub("Bw[%w+/]+=*", "ETAG")), rc
    end
    local to_emu = "CLOUD_RUN_EMULATOR_HOST=" .. emu.host
    local to_fake = ("GOOGLE_APPLICATION_CREDENTIALS=%s CLOUDSDK_API_ENDPOINT_OVERRIDES_RUN=http://127.0.0.1:%s/")
      :format(h.sh_quote(dir .. "/sa.json"), fake.port)
    h.write(dir .. "/p.yaml", "bindings:\n- members: [user:a@example.com]\n  role: roles/run.viewer\n")
    for _, args in ipairs({
      "jobs add-iam-policy-binding brief --member group:ops@example.com --role roles/run.invoker --condition=None",
      "jobs remove-iam-policy-binding brief --member group:ops@example.com --role roles/run.invoker",
      "jobs remove-iam-policy-binding brief --member group:ops@example.com --role roles/run.invoker",
      "jobs set-iam-policy brief " .. h.sh_quote(dir .. "/p.yaml") .. " --quiet",
      "jobs get-iam-policy brief --format json",
    }) do
      local a, arc = cli(to_emu, args)
      local b, brc = cli(to_fake, args)
      assert.are.equal(arc, brc, args .. "\n" .. a .. "\n" .. b)
      assert.are.equal(a, b, args)
    end
  end)

  it("every request they sent is a valid google.iam.v1 request as the REST mapping sends it", function()
    local ready, why = proto.ready()
    if not ready then
      pending("node is not here to check against Google's protos: " .. tostring(why))
      return
    end
    local requests = h.control_url("http://127.0.0.1:" .. fake.port .. "/iam-requests").requests
    local types = { getIamPolicy = "google.iam.v1.GetIamPolicyRequest", setIamPolicy = "google.iam.v1.SetIamPolicyRequest",
      testIamPermissions = "google.iam.v1.TestIamPermissionsRequest" }
    local checks, kinds = {}, {}
    for _, r in ipairs(requests) do
      local verb = r.path:match(":(%a+)$")
      -- the calls made on purpose with a wrong query or body are the servers' tests, not the client's
      local deliberate = r.query:find("options.x", 1, true) or r.query:find("=2", 1, true)
        or (r.body and r.body:find("not base64", 1, true))
      if not deliberate then
        kinds[verb] = true
        checks[#checks + 1] = { types[verb], verb == "getIamPolicy" and ("?" .. r.query) or r.body }
        assert.are.equal(verb == "getIamPolicy" and "GET" or "POST", r.method)
      end
    end
    assert.is_true(kinds.getIamPolicy and kinds.setIamPolicy and kinds.testIamPermissions)
    assert(#checks >= 20, #checks)
    local ok, failed = proto.check(checks)
    assert(ok, failed)
    -- and the checker does refuse what Google would
    ok = proto.check({ { "google.iam.v1.SetIamPolicyRequest", '{"policy":{"bindings":{}}}' } })
    assert.is_false(ok)
  end)
end)
