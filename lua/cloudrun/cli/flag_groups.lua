--- cloudrun.cli.flag_groups — flags that come in groups, as gcloud reads them:
-- a line cut into --container NAME groups (per-container flags after each, the
-- command's before the first), and what a flag given more than once adds up to
-- (list items joined, dict keys merged). For jobs create/update/deploy and
-- jobs execute.
local common = require("cloudrun.cli.common")

local ipairs, type, concat = ipairs, type, table.concat

local _M = {}

--- A list flag's items: v is its value, or (a `many` flag) the list of its values,
-- whose items are joined in order, as gcloud's list flags add up when repeated.
function _M.list_values(v)
  if type(v) == "string" then return common.split_list(v) end
  local out = {}
  for _, one in ipairs(v or {}) do
    for _, item in ipairs(common.split_list(one)) do out[#out + 1] = item end
  end
  return out
end

--- A KEY=VALUE,... flag (or the list of its values, when repeated) as one list of
-- {name=, value=}: a key given again changes the value where the key first came,
-- as gcloud's dict flags add up. nil, message for an item without "=".
function _M.dict_values(flag, v)
  local out, at = {}, {}
  for _, one in ipairs(type(v) == "string" and { v } or v or {}) do
    local items, err = common.env_pairs(flag, one)
    if not items then return nil, err end
    for _, kv in ipairs(items) do
      if at[kv.name] then
        out[at[kv.name]].value = kv.value
      else
        out[#out + 1] = kv
        at[kv.name] = #out
      end
    end
  end
  return out
end

--[[
parse_containers(words, flags, per_container, whose) -> containers, values | nil | nil, message
gcloud's --container NAME, as its container parser reads a line: the words are
cut at each --container NAME (or --container=NAME); those after one, up to the
next, are container NAME's flags, and only the per-container ones
(per_container: a set of flag names) may be there; the others, `whose` ("the
execution's", "the job's"), go before the first --container, where no
per-container flag may then be. Global flags (and positionals) may be
anywhere, as on every command: they are the command's. A container named twice
gets both lots of flags (of a flag given in both, the later, or every one of a
`many` flag). Returns nil when the line has no --container; else the
containers in the order first named, each { name =, flags = its values (as
common.parse gives them) }, and the command's own values; or nil, message.
]]
function _M.parse_containers(words, flags, per_container, whose)
  local takes_value, global = {}, {}
  for _, list in ipairs({ flags, common.global_flags }) do
    for _, f in ipairs(list) do
      if f[2] then takes_value["--" .. f[1]] = true end
    end
  end
  for _, f in ipairs(common.global_flags) do
    global["--" .. f[1]] = true
    if f.short then global[f.short] = true end
  end
  local top, order, lots = {}, {}, {}
  local current = top
  local i = 1
  while i <= #words do
    local w = words[i]
    if w == "--" then
      for j = i, #words do top[#top + 1] = words[j] end
      break
    end
    local name = w:match("^%-%-container=(.*)$")
    if w == "--container" then
      i = i + 1
      name = words[i] or ""
    end
    if name then
      if name == "" then return nil, "--container needs a container's name" end
      if not lots[name] then
        order[#order + 1] = name
        lots[name] = {}
      end
      current = lots[name]
    else
      local into = (w:sub(1, 1) ~= "-" or global[w:match("^[^=]*")]) and top or current
      into[#into + 1] = w
      if takes_value[w] and words[i + 1] ~= nil then
        i = i + 1
        into[#into + 1] = words[i]
      end
    end
    i = i + 1
  end
  if #order == 0 then return nil end
  local pos, values = common.parse(top, flags)
  if not pos then return nil, values end
  for _, f in ipairs(flags) do
    if per_container[f[1]] and values[f[1]] ~= nil then
      return nil, "with --container, --" .. f[1] .. " goes after the --container it is for (the flags before the "
        .. "first --container are " .. whose .. ")"
    end
  end
  local containers, only = {}, {}
  for _, f in ipairs(flags) do
    if per_container[f[1]] then only[#only + 1] = "--" .. f[1] end
  end
  for k, name in ipairs(order) do
    local ok, own = common.parse(lots[name], flags)
    if not ok then return nil, own end
    for _, f in ipairs(flags) do
      if own[f[1]] ~= nil and not per_container[f[1]] then
        return nil, "--" .. f[1] .. " is " .. whose .. ", not container " .. name .. "'s: give it before the first "
          .. "--container" .. (#only <= 3 and (" (after --container NAME come only " .. concat(only, " and ") .. ")")
          or "")
      end
    end
    containers[k] = { name = name, flags = own }
  end
  return containers, values
end

return _M
