-- Grant a web app's service account the right to run one job, and run it as the
-- app would. Running a job with overrides (args, env, task count) needs
-- run.jobs.runWithOverrides, which roles/run.invoker does not include: the
-- narrowest predefined role that has it is roles/run.jobsExecutorWithOverrides,
-- granted here on the one job (not the project). The grant is a read-modify-write
-- with the policy's etag (cloudrun.iam.modify): a change someone made meanwhile
-- makes it start again rather than be lost. Then the job runs with overrides, and
-- test_iam_permissions says what the caller may do on it.
--
--   CLOUD_RUN_EMULATOR_HOST=127.0.0.1:8123 cloudrun-lua examples/grant.lua [JOB] [ACCOUNT]
-- JOB defaults to report, ACCOUNT to web@PROJECT.iam.gserviceaccount.com. Against
-- Google: unset CLOUD_RUN_EMULATOR_HOST; the credentials must be allowed to set the
-- job's policy (run.jobs.setIamPolicy, e.g. roles/run.admin). The same grant in the
-- shell:  cloudrun jobs add-iam-policy-binding JOB --member=serviceAccount:ACCOUNT \
--           --role=roles/run.jobsExecutorWithOverrides
local cloudrun = require("cloudrun")
local iam = require("cloudrun.iam")

local project = os.getenv("GOOGLE_CLOUD_PROJECT") or "demo-project"
local job = arg[1] or "report"
local member = "serviceAccount:" .. (arg[2] or ("web@" .. project .. ".iam.gserviceaccount.com"))
local role = "roles/run.jobsExecutorWithOverrides"

local client = assert(cloudrun.client{ project = project, region = os.getenv("CLOUDSDK_RUN_REGION") or "us-central1" })

local function fail(what, err)
  io.stderr:write(what, ": ", tostring(err), "\n")
  os.exit(3)
end

local policy, err = iam.modify(client, job, function(p)
  return iam.add_binding(p, member, role) -- false: already granted, nothing to set
end)
if not policy then fail("granting " .. role .. " on " .. job, err) end
for _, b in ipairs(policy.bindings or {}) do
  print(("%s: %s"):format(b.role, table.concat(b.members, ", ")))
end

local granted
granted, err = client:test_iam_permissions(job, { "run.jobs.run", "run.jobs.runWithOverrides" })
if not granted then fail("testIamPermissions", err) end
print("the caller may: " .. table.concat(granted.permissions or {}, ", "))

-- what the web app then does with its own credentials (here, this script's)
local op
op, err = client:run_job(job, { args = { "job", "--id=7" }, env = { ID = "7" } })
if not op then fail("run_job", err) end
print("started " .. op.execution)
local execution
execution, err = client:wait(op, { timeout = 300 })
if not execution then fail("wait", err) end
print(("%s: %d of %d task(s) succeeded"):format(execution.name:match("[^/]+$"), execution.succeededCount,
  execution.taskCount))
os.exit(execution.succeededCount == execution.taskCount and 0 or 1)
