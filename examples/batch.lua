-- A batch: one execution of the report job for each id in a list, started
-- together with a bounded number of calls in flight (client:run_jobs), then
-- followed to the end. Exit status 0 when every execution succeeded, 1 when
-- one failed or could not start.
--
--   cloudrun-lua examples/batch.lua 1 2 3 ...        (or the ids on stdin, one a line)
--   BATCH_IN_FLIGHT=8 cloudrun-lua examples/batch.lua < ids.txt
local cloudrun = require("cloudrun")

local ids = {}
for i = 1, #arg do ids[#ids + 1] = arg[i] end
if #ids == 0 then
  for line in io.lines() do
    if line:match("%S") then ids[#ids + 1] = line:match("^%s*(.-)%s*$") end
  end
end

-- project, region and credentials as gcloud finds them (flags aside)
local client = assert(cloudrun.client{})

local list = {}
for i, id in ipairs(ids) do
  list[i] = { job = "report", args = { "job", "--id=" .. id }, env = { ID = id } }
end
local results = client:run_jobs(list, { in_flight = tonumber(os.getenv("BATCH_IN_FLIGHT")) or 4 })

local bad = 0
for i, r in ipairs(results) do
  if cloudrun.is_error(r) then
    bad = bad + 1
    print(("id %s: not started: %s"):format(ids[i], tostring(r)))
  else
    local e, err = client:wait(r, { timeout = 3600 })
    if not e then
      bad = bad + 1
      print(("id %s: %s: %s"):format(ids[i], r.execution:match("[^/]+$"), tostring(err)))
    else
      -- counts the API left out read as 0
      local ok = e.succeededCount == e.taskCount
      if not ok then bad = bad + 1 end
      print(("id %s: %s %s (%d succeeded, %d failed)"):format(ids[i], r.execution:match("[^/]+$"),
        ok and "succeeded" or "FAILED", e.succeededCount, e.failedCount))
    end
  end
end
print(("%d of %d execution(s) succeeded"):format(#ids - bad, #ids))
os.exit(bad == 0 and 0 or 1)
