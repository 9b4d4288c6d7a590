-- Request bodies held to Google's protos from a Lua spec: tests/node/proto_check.js
-- (protobufjs over the protos @google-cloud/run ships) run by node.
--
--   local proto = require("proto_check")
--   if proto.ready() then
--     local ok, why = proto.check({ { "google.iam.v1.SetIamPolicyRequest", body_text },
--                                   { "google.iam.v1.GetIamPolicyRequest", "?options.requestedPolicyVersion=3" } })
--   end
--
-- ready() installs the pinned npm packages when they are missing (tests/node/modules.sh)
-- and says whether node can check: false (with why) when node or npm is absent or the
-- install failed offline, unless CR_REQUIRE_NODE_TESTS=1, which makes that an error.
local h = require("helpers")

local M = {}

local SRC = assert(os.getenv("CLOUDRUN_SOURCE_DIR"), "CLOUDRUN_SOURCE_DIR must point at the source tree")
local NODE_DIR = SRC .. "/tests/node"

local readiness, why_not
function M.ready()
  if readiness == nil then
    local out, rc = h.run(h.sh_quote(NODE_DIR .. "/modules.sh") .. " proto_check 2>&1")
    readiness = rc == 0
    why_not = out
    if rc ~= 0 and (rc ~= 77 or os.getenv("CR_REQUIRE_NODE_TESTS") == "1") then
      error("tests/node/modules.sh failed (" .. tostring(rc) .. "): " .. out)
    end
  end
  return readiness, why_not
end

--- check(list) -> true | false, what failed. list: { {TYPE, TEXT}, ... }: TEXT a
-- JSON body, or "?" followed by a GET's query string. Every entry is checked.
function M.check(list)
  assert(M.ready(), "proto_check.check without node: ask proto_check.ready() first")
  local lines = {}
  for i, e in ipairs(list) do
    assert(not e[2]:find("\n"), "a body on one line, please")
    lines[i] = e[1] .. " " .. e[2]
  end
  local dir = h.tmpdir()
  h.write(dir .. "/checks", table.concat(lines, "\n") .. "\n")
  local out, rc = h.run(("node %s --lines < %s 2>&1"):format(h.sh_quote(NODE_DIR .. "/proto_check.js"),
    h.sh_quote(dir .. "/checks")))
  os.execute("rm -rf " .. h.sh_quote(dir))
  if rc == 0 then return true end
  local failed = {}
  local i = 0
  for line in out:gmatch("[^\n]+") do
    i = i + 1
    if line ~= "ok" then failed[#failed + 1] = line .. (list[i] and ("\n    body: " .. list[i][2]) or "") end
  end
  return false, #failed > 0 and table.concat(failed, "\n") or out
end

return M
