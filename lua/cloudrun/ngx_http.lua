--- cloudrun.ngx_http — one HTTP/1.1 exchange over an nginx cosocket, for the
-- nginx driver: connect (from nginx's keepalive pool), TLS with verification,
-- the request, and a small response reader (status line, headers,
-- Content-Length, chunked, or until close) with a cap on what it keeps.
-- It never sends a request twice: a failure after the request may have gone
-- out is reported as such (sent = true), and the machine decides.
--
-- The request's timeout is a deadline for the whole exchange. nginx's own
-- timeouts are per operation and restart with every byte that arrives, so
-- the reader asks for bounded pieces (receiveany), looks at the clock
-- between them and gives each wait only what is left. Whatever the server
-- sends, the answer is status, headers, body or nil, failure: never a
-- raised error (tests/fuzz/fuzz_ngx_http.c holds it to that).
--
-- Why a reader in Lua rather than a C parser (nodejs/http-parser): the bytes
-- come from the cosocket in Lua anyway, the reader is small because the
-- responses it reads are ordinary (Google's front end, the emulator, a
-- metadata server), it needs no build-time dependency (Debian's http-parser
-- is unmaintained upstream since 2020), and it can stop reading at the cap
-- the moment a length says too much, before anything is buffered.
local ngx = ngx
local tonumber, tostring, ipairs, concat, floor, ceil, min, max =
  tonumber, tostring, ipairs, table.concat, math.floor, math.ceil, math.min, math.max
local find, sub, byte, lower = string.find, string.sub, string.byte, string.lower

local _M = {}

_M.MAX_BODY = 32 * 1024 * 1024    -- bytes of a response body kept, at most
_M.MAX_HEADERS = 64 * 1024        -- bytes of response headers, at most
_M.KEEPALIVE_IDLE_MS = 10000      -- an idle pooled connection is closed after this long
_M.KEEPALIVE_POOL = 64            -- pooled connections per host, per worker
_M.PIECE = 64 * 1024              -- bytes asked of one receive, at most
_M.MAX_CHUNK_LINE = 4096          -- bytes of a chunk-size line (extensions included), at most

local function failure(code, req, what, sent)
  return { code = code, message = ("%s %s: %s"):format(req.method, req.url, what), sent = sent }
end

--- scheme, host, port, target ("/path?query") of an absolute http(s) URL
local function parse_url(url)
  local scheme, authority, target = url:match("^(https?)://([^/?#]+)(.*)$")
  if not scheme then return nil end
  local host, port = authority:match("^%[([^%]]+)%]:?(%d*)$") -- [v6]:port
  if not host then host, port = authority:match("^([^:]+):?(%d*)$") end
  if not host then return nil end
  port = tonumber(port) or (scheme == "https" and 443 or 80)
  if port < 1 or port > 65535 then return nil end -- nginx raises on such a port
  if target == "" then target = "/" end
  return scheme, host, port, target
end
_M.parse_url = parse_url

-- A message for a TLS failure that says what to check in nginx's configuration.
local function tls_failure(req, host, port, err)
  local verify = tostring(err):find("verif", 1, true) or tostring(err):find("certificate", 1, true)
  if verify then
    return failure("FAILED_PRECONDITION", req, ("TLS: the certificate of %s:%d did not verify (%s): check "
      .. "lua_ssl_trusted_certificate (a CA bundle, e.g. /etc/ssl/certs/ca-certificates.crt) and "
      .. "lua_ssl_verify_depth (Google's chain needs 3 or more)"):format(host, port, tostring(err)), false)
  end
  return failure("UNAVAILABLE", req, ("TLS handshake with %s:%d failed: %s"):format(host, port, tostring(err)), false)
end

-- A message for a connection that could not be made, with the directive to check.
local function connect_failure(req, host, port, err)
  local hint = ""
  if tostring(err):find("resolver", 1, true) then
    hint = " (cosockets resolve names through nginx's `resolver` directive: set one)"
  end
  return failure("UNAVAILABLE", req, ("cannot connect to %s:%d: %s%s"):format(host, port, tostring(err), hint), false)
end

--[[
Connects to host:port, from nginx's pool when it can, by the deadline (a
connect alone waits 10 s at most, as libcurl's does). A pooled connection the
server closed while it sat idle is not handed out: nginx watches its idle
connections and drops one as soon as the server's FIN arrives. What is left is
a server that closes the connection just as a request goes out; a change that
meets it is reported as possibly sent (never sent again), a read is retried.
]]
-- The clock, fresh: ngx.now() is the event loop's cached time.
local function now()
  ngx.update_time()
  return ngx.now()
end

-- Milliseconds left until the deadline (nil when none), for a socket timeout.
local function left_ms(deadline)
  local left = deadline - now()
  if left <= 0 then return nil end
  return max(1, ceil(left * 1000))
end

local function out_of_time(req, what, sent)
  return failure("DEADLINE_EXCEEDED", req, ("no complete answer within the timeout of %gs (%s)")
    :format(req.timeout or 30, what), sent)
end

local function connect(req, scheme, host, port, deadline)
  local left = left_ms(deadline)
  if not left then return nil, out_of_time(req, "connecting", false) end
  local sock = ngx.socket.tcp()
  sock:settimeouts(min(left, 10000), left, left)
  local ok, err = sock:connect(host, port, { pool = ("cloudrun:%s:%s:%d"):format(scheme, host, port) })
  if not ok then
    if err == "timeout" then
      if not left_ms(deadline) then return nil, out_of_time(req, "connecting", false) end
      return nil, failure("UNAVAILABLE", req, ("connecting to %s:%d timed out"):format(host, port), false)
    end
    return nil, connect_failure(req, host, port, err)
  end
  if scheme == "https" and (sock:getreusedtimes() or 0) == 0 then
    left = left_ms(deadline) -- the handshake waits as long as a connect may
    if not left then
      sock:close()
      return nil, out_of_time(req, "the TLS handshake", false)
    end
    sock:settimeouts(left, left, left)
    local done, terr = sock:sslhandshake(false, host, true)
    if not done then
      sock:close()
      if terr == "timeout" then return nil, out_of_time(req, "the TLS handshake", false) end
      return nil, tls_failure(req, host, port, terr)
    end
  end
  return sock
end

local function request_text(req, host, port, scheme, target)
  local default_port = (scheme == "https" and 443) or 80
  local lines = {
    ("%s %s HTTP/1.1"):format(req.method, target),
    "Host: " .. (host:find(":", 1, true) and ("[" .. host .. "]") or host)
      .. (port ~= default_port and (":" .. port) or ""),
    "User-Agent: lua-cloudrun (nginx cosocket)",
  }
  for _, kv in ipairs(req.headers or {}) do
    local name = kv[1]:lower()
    if name ~= "host" and name ~= "content-length" and name ~= "connection" and name ~= "transfer-encoding" then
      lines[#lines + 1] = kv[1] .. ": " .. kv[2]
    end
  end
  local body = req.body or ""
  if body ~= "" or req.method == "POST" or req.method == "PATCH" or req.method == "PUT" then
    lines[#lines + 1] = "Content-Length: " .. #body
  end
  lines[#lines + 1] = "Connection: keep-alive"
  lines[#lines + 1] = ""
  lines[#lines + 1] = body
  return concat(lines, "\r\n")
end

-- After the request went out: a read error as a failure (sent = true: it may have taken effect).
local function read_failure(req, err, what)
  if err == "timeout" then return out_of_time(req, what, true) end
  if err == "closed" then
    return failure("UNAVAILABLE", req, "the connection closed before the answer was complete (" .. what .. ")", true)
  end
  return failure("UNAVAILABLE", req, tostring(err) .. " (" .. what .. ")", true)
end

-- An answer that breaks HTTP/1.1. Its text is never quoted: it is the server's.
local function malformed(req, what)
  return failure("UNAVAILABLE", req, "a malformed answer: " .. what, true)
end

-- Not transient: asking again brings the same (a code the machine does not retry). The words are libcurl's.
local function too_large(req)
  return failure("RESOURCE_EXHAUSTED", req, ("the answer is larger than this client takes (%d MiB of body, "
    .. "%d KiB of headers): refused"):format(floor(_M.MAX_BODY / 1048576), floor(_M.MAX_HEADERS / 1024)), true)
end

-- ---- the reader ----------------------------------------------------------------
-- r = {sock=, req=, deadline=, buf=, pos=}: buf[pos..] is what came and is not
-- read yet. fill is called only when that is empty.

-- One piece from the socket into r.buf: true, or nil and the socket's error
-- ("timeout" when the deadline passed, "closed", ...).
local function fill(r)
  local left = left_ms(r.deadline)
  if not left then return nil, "timeout" end
  r.sock:settimeouts(left, left, left)
  local data, err = r.sock:receiveany(_M.PIECE)
  if not data then return nil, err or "closed" end
  r.buf, r.pos = data, 1
  return true
end

-- The next line without its CRLF (or bare LF): the line, or nil and the
-- socket's error, or nil, false when it is longer than `limit`.
local function read_line(r, limit)
  local parts, n = nil, 0
  while true do
    local buf, pos = r.buf, r.pos
    local e = find(buf, "\n", pos, true)
    local piece = sub(buf, pos, e and e - 1 or -1)
    n = n + #piece
    if n > limit then return nil, false end
    if e then
      r.pos = e + 1
      local line = parts and (concat(parts) .. piece) or piece
      if byte(line, -1) == 13 then line = sub(line, 1, -2) end
      return line
    end
    if piece ~= "" then
      parts = parts or {}
      parts[#parts + 1] = piece
    end
    r.buf, r.pos = "", 1
    local ok, err = fill(r)
    if not ok then return nil, err end
  end
end

-- n more bytes of body into parts: true, or nil and the socket's error.
local function read_bytes(r, n, parts)
  while n > 0 do
    if r.pos > #r.buf then
      local ok, err = fill(r)
      if not ok then return nil, err end
    end
    local take = min(n, #r.buf - r.pos + 1)
    parts[#parts + 1] = sub(r.buf, r.pos, r.pos + take - 1)
    r.pos = r.pos + take
    n = n - take
  end
  return true
end

-- "name: value" (RFC 9110's token for the name, no space before the colon): name, value.
local function header_line(line)
  local colon = find(line, ":", 1, true)
  if not colon or colon == 1 then return nil end
  local name = sub(line, 1, colon - 1)
  if not find(name, "^[%w!#$%%&'*+%-.^_`|~]+$") then return nil end
  local s, e = colon + 1, #line
  while s <= e and (byte(line, s) == 32 or byte(line, s) == 9) do s = s + 1 end
  while e >= s and (byte(line, e) == 32 or byte(line, e) == 9) do e = e - 1 end
  return name, sub(line, s, e)
end

-- The status line and headers of one answer, within r.header_bytes (shared
-- by 1xx answers, trailers and the real one): status, headers, http minor version.
local function read_head(r)
  local req = r.req
  local line, err = read_line(r, _M.MAX_HEADERS - r.header_bytes)
  if not line then
    if err == false then return nil, too_large(req) end
    return nil, read_failure(req, err, "the status line")
  end
  r.header_bytes = r.header_bytes + #line + 2
  local minor, code, rest = line:match("^HTTP/1%.([01]) ([1-9]%d%d)(.*)$")
  if not code or (rest ~= "" and byte(rest, 1) ~= 32) then
    return nil, malformed(req, "its first line is not an HTTP/1.x status line")
  end
  local headers = {}
  while true do
    line, err = read_line(r, _M.MAX_HEADERS - r.header_bytes)
    if not line then
      if err == false then return nil, too_large(req) end
      return nil, read_failure(req, err, "headers")
    end
    r.header_bytes = r.header_bytes + #line + 2
    if r.header_bytes > _M.MAX_HEADERS then return nil, too_large(req) end
    if line == "" then return tonumber(code), headers, minor end
    local name, value = header_line(line)
    if not name then return nil, malformed(req, "a header line that is not `name: value`") end
    headers[#headers + 1] = { name, value }
  end
end

local function header(headers, name)
  name = lower(name)
  for _, kv in ipairs(headers) do
    if lower(kv[1]) == name then return kv[2] end
  end
end

-- The body's length from Content-Length: n, or false when there is none, or nil, failure.
local function content_length(req, headers)
  local n = false
  for _, kv in ipairs(headers) do
    if lower(kv[1]) == "content-length" then
      if not find(kv[2], "^%d+$") then return nil, malformed(req, "a Content-Length that is not a number") end
      local v = tonumber(kv[2])
      if n and v ~= n then return nil, malformed(req, "two different Content-Lengths") end
      n = v
    end
  end
  return n
end

local function read_chunked(r)
  local req, parts, total = r.req, {}, 0
  while true do
    local line, err = read_line(r, _M.MAX_CHUNK_LINE)
    if not line then
      if err == false then return nil, malformed(req, "a chunk-size line too long") end
      return nil, read_failure(req, err, "a chunk size")
    end
    local hex, rest = line:match("^(%x+)(.*)$")
    if not hex or not (rest == "" or find(rest, "^[ \t]*;")) then
      return nil, malformed(req, "a chunk size that is not hexadecimal")
    end
    if #hex > 16 then return nil, malformed(req, "a chunk size of more than 16 hex digits") end
    local size = tonumber(hex, 16)
    if size == 0 then
      repeat -- trailers, counted with the headers
        line, err = read_line(r, _M.MAX_HEADERS - r.header_bytes)
        if not line then
          if err == false then return nil, too_large(req) end
          return nil, read_failure(req, err, "trailers")
        end
        r.header_bytes = r.header_bytes + #line + 2
      until line == ""
      return concat(parts)
    end
    total = total + size
    if total > _M.MAX_BODY then return nil, too_large(req) end
    local ok
    ok, err = read_bytes(r, size, parts)
    if not ok then return nil, read_failure(req, err, "the body") end
    line, err = read_line(r, 2)
    if line ~= "" then
      if line or err == false then return nil, malformed(req, "a chunk not followed by CRLF") end
      return nil, read_failure(req, err, "the body")
    end
  end
end

local function read_to_close(r)
  local req, parts, total = r.req, {}, 0
  while true do
    if r.pos <= #r.buf then
      total = total + #r.buf - r.pos + 1
      if total > _M.MAX_BODY then return nil, too_large(req) end
      parts[#parts + 1] = sub(r.buf, r.pos)
    end
    r.buf, r.pos = "", 1
    local ok, err = fill(r)
    if not ok then
      if err == "closed" then return concat(parts) end
      return nil, read_failure(req, err, "the body")
    end
  end
end

-- The answer after the request went out: status, headers, body, whether the
-- connection may be kept; or nil, failure.
local function read_answer(r)
  local req = r.req
  local status, headers, minor
  repeat -- 1xx answers come before the real one
    status, headers, minor = read_head(r)
    if not status then return nil, headers end
  until status >= 200

  local keep = header(headers, "Connection")
  keep = minor == "1" and not (keep and find(lower(keep), "close", 1, true))
  local te = header(headers, "Transfer-Encoding")
  local length, lerr = content_length(req, headers)
  local body, err
  if req.method == "HEAD" or status == 204 or status == 304 then
    body = ""
  elseif te then
    if not find(lower(te), "chunked%s*$") then
      -- a coding this client did not ask for: its end is where the connection closes
      keep = false
      body, err = read_to_close(r)
    else
      body, err = read_chunked(r)
    end
  elseif length == nil then
    return nil, lerr
  elseif length then
    if length > _M.MAX_BODY then return nil, too_large(req) end
    local parts, rerr = {}
    body, rerr = read_bytes(r, length, parts)
    if body then body = concat(parts) else err = read_failure(req, rerr, "the body") end
  else
    keep = false
    body, err = read_to_close(r)
  end
  if not body then return nil, err end
  -- bytes past the answer were read from the socket and would be lost to the next request
  return status, headers, body, keep and r.pos > #r.buf
end

--- request(req) -> status, headers ({{name, value}, ...}), body | nil, failure {code=, message=, sent=}
-- req: a SEND step's request: {method=, url=, headers=, body=, timeout=, idempotent=}; timeout
-- (seconds, 30 when absent) bounds the whole exchange: connecting, TLS, sending and reading.
function _M.request(req)
  local scheme, host, port, target = parse_url(req.url)
  if not scheme then
    return nil, failure("INVALID_ARGUMENT", req, "not an http:// or https:// URL", false)
  end
  local deadline = now() + (req.timeout or 30)
  local sock, cerr = connect(req, scheme, host, port, deadline)
  if not sock then return nil, cerr end

  local left = left_ms(deadline)
  if not left then
    sock:close()
    return nil, out_of_time(req, "before sending", false)
  end
  sock:settimeouts(left, left, left)
  local sent, serr = sock:send(request_text(req, host, port, scheme, target))
  if not sent then
    sock:close()
    return nil, read_failure(req, serr, "sending")
  end

  local r = { sock = sock, req = req, deadline = deadline, buf = "", pos = 1, header_bytes = 0 }
  local status, headers, body, keep = read_answer(r)
  if not status then
    sock:close()
    return nil, headers
  end
  if not (keep and sock:setkeepalive(_M.KEEPALIVE_IDLE_MS, _M.KEEPALIVE_POOL)) then
    sock:close()
  end
  return status, headers, body
end

return _M
