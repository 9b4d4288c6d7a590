--- cloudrun.cli.man — `cloudrun`'s man page, in roff, made from the tables the
-- help prints (cli/init.lua hands them over: the groups, every command's
-- table, the global flags, the environment, the exit statuses) and from the
-- emulator's --help text, so that the page says what the help says and cannot
-- drift from it. The build runs `cloudrun help --man` to write cloudrun.1.
local common = require("cloudrun.cli.common")

local ipairs, concat, find, sub = ipairs, table.concat, string.find, string.sub

local _M = {}

--- Text that roff prints as it is: backslashes, hyphens (as minus signs, so
-- that options copy and search as typed), apostrophes and backquotes escaped,
-- and a line that would begin with a control character guarded.
function _M.escape(text)
  text = text:gsub("\\", "\\e"):gsub("%-", "\\-"):gsub("'", "\\(aq"):gsub("`", "\\(ga")
  return (text:gsub("^%.", "\\&."):gsub("\n%.", "\n\\&."))
end
local escape = _M.escape

-- Help text to be filled by roff: its line breaks are spaces (a line that
-- began with blanks would break the paragraph there).
local function fill(text)
  return escape((text:gsub("\n%s*", "\n")))
end

--- A synopsis or a flag's label: options in bold, UPPER-CASE placeholders in
-- italics, the rest as it is.
function _M.styled(text)
  local out, i = {}, 1
  while i <= #text do
    local a, b = find(text, "[%w%-_]+", i)
    if not a then
      out[#out + 1] = escape(sub(text, i))
      break
    end
    out[#out + 1] = escape(sub(text, i, a - 1))
    local word = sub(text, a, b)
    if find(word, "^%-") then
      word = "\\fB" .. escape(word) .. "\\fR"
    elseif find(word, "^%u[%u%d_]*$") then
      word = "\\fI" .. escape(word) .. "\\fR"
    else
      word = escape(word)
    end
    out[#out + 1] = word
    i = b + 1
  end
  return concat(out)
end
local styled = _M.styled

-- A tagged paragraph: the tag (roff already) and its text.
local function item(out, tag, text)
  out[#out + 1] = ".TP"
  out[#out + 1] = tag
  out[#out + 1] = fill(text)
end

-- "cloudrun jobs create JOB --image=IMAGE [flags]": the command's words in
-- bold, the rest styled; as a tag, or after .SY when synopsis is set.
local function command_line(words, line)
  local rest = sub(line, #("cloudrun " .. words) + 1)
  return "\\fBcloudrun " .. escape(words) .. "\\fR" .. styled(rest)
end

local function flag_items(out, flags)
  for _, f in ipairs(flags) do item(out, styled(common.flag_label(f)), f[3]) end
end

--[[
The emulator's --help text: its first lines, up to a blank one, are the usage
(returned, for the SYNOPSIS); what follows goes into out as paragraphs, option
rows ("  --name VALUE  help", continued on lines indented deeper) and blocks
indented by two columns, which are kept line for line.
]]
local function emulator_section(text, out)
  local usage, body = text:match("^usage: (.-)\n\n(.*)$")
  local mode -- nil between blocks, or "para", "option", "pre"
  for line in body:gmatch("([^\n]*)\n") do
    if line == "" then
      if mode == "pre" then out[#out + 1] = ".fi" end
      mode = nil
    elseif mode ~= "pre" and find(line, "^  %-") then
      local label, help = line:match("^  (%-%S+ ?%S*)  +(.*)$")
      item(out, styled(label or line:match("^%s*(.-)%s*$")), help or "")
      mode = "option"
    elseif mode == "option" and find(line, "^   ") then
      out[#out + 1] = fill(line:match("^%s*(.-)%s*$"))
    elseif mode == "pre" or find(line, "^  %S") then
      if mode ~= "pre" then out[#out + 1] = ".nf" end
      out[#out + 1] = escape(line)
      mode = "pre"
    else
      if mode ~= "para" then out[#out + 1] = ".PP" end
      out[#out + 1] = fill(line)
      mode = "para"
    end
  end
  if mode == "pre" then out[#out + 1] = ".fi" end
  return (usage:gsub("%s+", " "))
end

--[[
cloudrun(page) -> the roff text. page: version, summary (the root group's),
note, groups ({ words, summary, commands }), extra ({ label, help } rows),
global_flags, environment and statuses ({ name, help } rows), and
emulator_usage (`cloudrun emulator --help`'s text, or nil).
]]
function _M.cloudrun(page)
  local emulator, emulator_usage = {}, nil
  if page.emulator_usage then emulator_usage = emulator_section(page.emulator_usage, emulator) end
  local out = {
    '.TH CLOUDRUN 1 "" "lua\\-cloudrun ' .. escape(page.version) .. '" "User Commands"',
    ".nh", -- the help's words unbroken, flag names above all
    ".ad l",
    ".SH NAME",
    "cloudrun \\- " .. escape((page.summary:gsub("^%u", string.lower):gsub("%.$", ""))),
    ".SH SYNOPSIS",
  }
  -- One line per command; the emulator's long usage last, folded under its name.
  out[#out + 1] = ".nf"
  for _, group in ipairs(page.groups) do
    for _, command in ipairs(group.commands) do
      out[#out + 1] = command_line(concat(command.path, " "), common.synopsis(command))
    end
  end
  for _, row in ipairs(page.extra) do
    local words, args = row[1]:match("^(%S+)(.*)$")
    if not (words == "emulator" and emulator_usage) then
      out[#out + 1] = command_line(words, "cloudrun " .. words .. args)
    end
  end
  out[#out + 1] = ".fi"
  if emulator_usage then
    -- each [--flag VALUE] kept on one line (\1 stands for its spaces while it is styled)
    local usage = sub(emulator_usage, #"cloudrun " + 1):gsub("%b[]", function(s) return (s:gsub(" ", "\1")) end)
    out[#out + 1] = ".SY cloudrun"
    out[#out + 1] = (styled(usage):gsub("\1", "\\ "))
    out[#out + 1] = ".YS"
  end
  out[#out + 1] = ".SH DESCRIPTION"
  out[#out + 1] = fill(page.summary)
  out[#out + 1] = ".PP"
  out[#out + 1] = fill(page.note)
  out[#out + 1] = ".SH COMMANDS"
  for _, group in ipairs(page.groups) do
    out[#out + 1] = '.SS "cloudrun ' .. escape(group.words) .. '"'
    if group.summary then out[#out + 1] = fill(group.summary) end
    for _, command in ipairs(group.commands) do
      local words = concat(command.path, " ")
      item(out, command_line(words, common.synopsis(command)), command.summary)
      if command.details then
        out[#out + 1] = ".IP"
        out[#out + 1] = fill(command.details)
      end
      if command.flags and #command.flags > 0 then
        out[#out + 1] = ".RS"
        flag_items(out, command.flags)
        out[#out + 1] = ".RE"
      end
    end
  end
  out[#out + 1] = '.SS "Also"'
  for _, row in ipairs(page.extra) do
    local words, args = row[1]:match("^(%S+)(.*)$")
    item(out, command_line(words, "cloudrun " .. words .. args), row[2])
  end
  out[#out + 1] = '.SH "GLOBAL FLAGS"'
  flag_items(out, page.global_flags)
  if emulator_usage then
    out[#out + 1] = ".SH EMULATOR"
    for _, line in ipairs(emulator) do out[#out + 1] = line end
  end
  out[#out + 1] = ".SH ENVIRONMENT"
  for _, row in ipairs(page.environment) do item(out, "\\fB" .. escape(row[1]) .. "\\fR", row[2]) end
  out[#out + 1] = '.SH "EXIT STATUS"'
  for _, row in ipairs(page.statuses) do item(out, escape(row[1]), row[2]) end
  out[#out + 1] = '.SH "SEE ALSO"'
  out[#out + 1] = ".BR cloudrun\\-lua (1)"
  out[#out + 1] = ""
  return concat(out, "\n")
end

return _M
