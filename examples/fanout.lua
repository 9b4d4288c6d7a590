-- The job side of a fan-out: one execution of N tasks, each task taking its
-- own contiguous share of the work. Trigger it with as many tasks as you like:
--
--   cloudrun jobs execute fanout --tasks=4 --wait
--   cloudrun jobs executions logs EXECUTION          (every task's lines)
--
-- cloudrun.task() reads what Cloud Run tells the task (CLOUD_RUN_TASK_INDEX,
-- CLOUD_RUN_TASK_COUNT, CLOUD_RUN_TASK_ATTEMPT, CLOUD_RUN_EXECUTION,
-- CLOUD_RUN_JOB); cloudrun.shard(list) gives task i of c the items
-- floor(i*n/c)+1 .. floor((i+1)*n/c): every item to exactly one task, in order.
local cloudrun = require("cloudrun")

local task = cloudrun.task()

-- The work: here the record ids 1..$ITEMS; in real life rows of a query,
-- files under a prefix, the lines of a manifest.
local items = {}
for i = 1, tonumber(os.getenv("ITEMS") or "10") do items[i] = i end

local mine = cloudrun.shard(items, task)
print(("task %d of %d (attempt %d): %d of %d item(s)"):format(task.index, task.count, task.attempt, #mine, #items))
for _, id in ipairs(mine) do
  -- the real work for one item goes here
  print("processed item " .. id)
end
