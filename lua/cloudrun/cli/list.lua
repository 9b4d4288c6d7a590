--- cloudrun.cli.list — what every list command does, with gcloud's list flags:
-- --filter (gcloud's filter language, cloudrun.filter, on the client, as gcloud
-- filters), --sort-by, --limit, --page-size (the API's pageSize) and --uri;
-- then --format, or the command's own table.
local common = require("cloudrun.cli.common")
local core = require("cloudrun.core")
local filter = require("cloudrun.filter")

local ipairs, type, pcall, error, tostring, setmetatable = ipairs, type, pcall, error, tostring, setmetatable

local _M = {}

local MAX_PAGE_SIZE = 1000000 -- what the method table takes

--- The flags every list command takes (after its own).
_M.flags = {
  { "filter", "EXPRESSION", "list only the resources that match EXPRESSION, in gcloud's filter language on the v2 "
    .. "REST fields (a subset: KEY=VALUE, KEY!=VALUE, KEY:VALUE, KEY:*, KEY~REGEX, KEY!~REGEX, < <= > >=, AND, OR, "
    .. "NOT, parentheses; see the README), e.g. 'labels.env=prod AND succeededCount>0'; applied on the client" },
  { "sort-by", "FIELD,...", "sort by these fields (v2 REST paths such as createTime), ~FIELD for descending" },
  { "limit", "N", "list at most N resources (after --filter and --sort-by)" },
  { "page-size", "N", "ask the API for N resources per request (its pageSize; at most " .. MAX_PAGE_SIZE
    .. "); the list still goes on to the end, or to --limit" },
  { "uri", false, "print each resource's URL (where the API serves it: https://run.googleapis.com/v2/NAME, or "
    .. "the emulator's or endpoint override's address), one a line, instead of the table" },
}

--- A command's own flags followed by the list flags.
function _M.with(own)
  local out = {}
  for _, f in ipairs(own or {}) do out[#out + 1] = f end
  for _, f in ipairs(_M.flags) do out[#out + 1] = f end
  return out
end

--- Every item of a paged iterator, up to `limit` (nil: all), or nil, err
-- (the iterators raise their err table; a raised string is a bug, passed on).
local function collect(iter, limit)
  local out = {}
  local ok, err = pcall(function()
    for item in iter do
      out[#out + 1] = item
      if limit and #out >= limit then break end
    end
  end)
  if not ok then
    if type(err) == "table" and err.code then return nil, err end
    error(err, 0)
  end
  return out
end

-- The list flags read and checked: { limit =, page_size =, keep =, sort = } | nil, message.
local function read_flags(flags)
  local o, err = {}
  if flags.limit then
    o.limit, err = common.count("--limit", flags.limit)
    if not o.limit then return nil, err end
  end
  if flags["page-size"] then
    o.page_size, err = common.count("--page-size", flags["page-size"])
    if not o.page_size then return nil, err end
    if o.page_size > MAX_PAGE_SIZE then return nil, "--page-size must be at most " .. MAX_PAGE_SIZE end
  end
  if flags.filter then
    o.keep, err = filter.compile(flags.filter)
    if not o.keep then return nil, "--filter: " .. err end
  end
  if flags["sort-by"] then
    o.sort, err = filter.sorter(flags["sort-by"])
    if not o.sort then return nil, "--sort-by: " .. err end
  end
  if flags.uri and flags.format then return nil, "--uri and --format cannot be used together" end
  return o
end

--[[
run(ctx, spec): a list command. spec.each(client, flags, opts) gives the
iterator (opts: page_size and filter, for the each_* method); spec.header the
columns, spec.row(item) one row. gcloud's order: --sort-by, --filter, --limit
(filtering first is the same and cheaper); without --sort-by the pages stop
being fetched at --limit.
]]
function _M.run(ctx, spec)
  local o, err = read_flags(ctx.flags)
  if not o then return ctx:usage(err) end
  local client
  client, err = ctx:client()
  if not client then return common.api_failure(err) end
  local items
  items, err = collect(spec.each(client, ctx.flags, { page_size = o.page_size, filter = o.keep }),
    not o.sort and o.limit or nil)
  if not items then return common.api_failure(err) end
  if o.sort then
    o.sort(items)
    for i = #items, (o.limit or #items) + 1, -1 do items[i] = nil end
  end
  if ctx.flags.uri then
    local base = client:endpoint()
    for _, item in ipairs(items) do common.stdout_write(base, "/v2/", tostring(item.name), "\n") end
    return common.OK
  end
  if ctx.flags.format then
    common.print(ctx.flags, setmetatable(items, core.array_mt), true)
    return common.OK
  end
  local rows = {}
  for i, item in ipairs(items) do rows[i] = spec.row(item) end
  common.table(spec.header, rows)
  return common.OK
end

return _M
