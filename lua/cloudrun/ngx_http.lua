--- cloudrun.ngx_http — one HTTP/1.1 exchange over an nginx cosocket, for the
-- nginx driver: connect (from nginx's keepalive pool), TLS with verification,
-- the request, and a small response reader (status line, headers,
-- Content-Length, chunked, or until close) with a cap on what it keeps.
-- It never sends a request twice: a failure after the request may have gone
-- out is reported as such (sent = true), and the machine decides.
--
-- Why a reader in Lua rather than a C parser (nodejs/http-parser): the bytes
-- come from the cosocket in Lua anyway, the reader is small because the
-- responses it reads are ordinary (Google's front end, the emulator, a
-- metadata server), it needs no build-time dependency (Debian's http-parser
-- is unmaintained upstream since 2020), and it can stop reading at the cap
-- the moment a length says too much, before anything is buffered.
local ngx = ngx
local tonumber, tostring, concat, floor, min, max = tonumber, tostring, table.concat, math.floor, math.min, math.max

local _M = {}

_M.MAX_BODY = 32 * 1024 * 1024    -- bytes of a response body kept, at most
_M.MAX_HEADERS = 64 * 1024        -- bytes of response headers, at most
_M.KEEPALIVE_IDLE_MS = 10000      -- an idle pooled connection is closed after this long
_M.KEEPALIVE_POOL = 64            -- pooled connections per host, per worker

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
Connects to host:port, from nginx's pool when it can. A pooled connection the
server closed while it sat idle is not handed out: nginx watches its idle
connections and drops one as soon as the server's FIN arrives. What is left is
a server that closes the connection just as a request goes out; a change that
meets it is reported as possibly sent (never sent again), a read is retried.
]]
local function connect(req, scheme, host, port, deadline)
  local sock = ngx.socket.tcp()
  local left = max(1, floor((deadline - ngx.now()) * 1000))
  sock:settimeouts(min(left, 10000), left, left)
  local ok, err = sock:connect(host, port, { pool = ("cloudrun:%s:%s:%d"):format(scheme, host, port) })
  if not ok then
    if err == "timeout" then
      return nil, failure("UNAVAILABLE", req, ("connecting to %s:%d timed out"):format(host, port), false)
    end
    return nil, connect_failure(req, host, port, err)
  end
  if scheme == "https" and (sock:getreusedtimes() or 0) == 0 then
    local done, terr = sock:sslhandshake(false, host, true)
    if not done then
      sock:close()
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

-- receive(sock, pattern) with the read timeout set to what is left of the deadline
local function receive(sock, pattern, deadline)
  local left = floor((deadline - ngx.now()) * 1000)
  if left < 1 then return nil, "timeout" end
  sock:settimeouts(left, left, left)
  return sock:receive(pattern)
end

-- After the request went out: a read error as a failure (sent = true: it may have taken effect).
local function read_failure(req, err, what)
  if err == "timeout" then
    return failure("DEADLINE_EXCEEDED", req, "no answer in time" .. (what and (" (" .. what .. ")") or ""), true)
  end
  if err == "closed" then
    return failure("UNAVAILABLE", req, "the connection closed before the answer was complete"
      .. (what and (" (" .. what .. ")") or ""), true)
  end
  return failure("UNAVAILABLE", req, tostring(err) .. (what and (" (" .. what .. ")") or ""), true)
end

local function read_headers(sock, req, deadline)
  local headers, size = {}, 0
  while true do
    local line, err = receive(sock, "*l", deadline)
    if not line then return nil, read_failure(req, err, "headers") end
    if line == "" then return headers end
    size = size + #line + 2
    if size > _M.MAX_HEADERS then
      return nil, failure("RESOURCE_EXHAUSTED", req, ("the answer's headers are larger than %d bytes: refused")
        :format(_M.MAX_HEADERS), true)
    end
    local name, value = line:match("^([^:%s]+):%s*(.-)%s*$")
    if name then headers[#headers + 1] = { name, value } end
  end
end

local function header(headers, name)
  name = name:lower()
  for _, kv in ipairs(headers) do
    if kv[1]:lower() == name then return kv[2] end
  end
end

-- Not transient: asking again brings the same (a code the machine does not retry).
local function too_large(req)
  return failure("RESOURCE_EXHAUSTED", req, ("the answer is larger than this client takes (%d MiB of body): refused")
    :format(floor(_M.MAX_BODY / 1048576)), true)
end

local function read_chunked(sock, req, deadline)
  local parts, total = {}, 0
  while true do
    local line, err = receive(sock, "*l", deadline)
    if not line then return nil, read_failure(req, err, "chunk size") end
    local size = tonumber(line:match("^%s*(%x+)"), 16)
    if not size then return nil, failure("UNAVAILABLE", req, "a malformed chunked body", true) end
    if size == 0 then
      repeat -- trailers
        line, err = receive(sock, "*l", deadline)
        if not line then return nil, read_failure(req, err, "trailers") end
      until line == ""
      return concat(parts)
    end
    total = total + size
    if total > _M.MAX_BODY then return nil, too_large(req) end
    local data
    data, err = receive(sock, size, deadline)
    if not data then return nil, read_failure(req, err, "body") end
    parts[#parts + 1] = data
    line, err = receive(sock, "*l", deadline)
    if not line then return nil, read_failure(req, err, "body") end
  end
end

local function read_to_close(sock, req, deadline)
  local parts, total = {}, 0
  while true do
    local data, err, partial = receive(sock, 8192, deadline)
    data = data or partial
    if data and #data > 0 then
      total = total + #data
      if total > _M.MAX_BODY then return nil, too_large(req) end
      parts[#parts + 1] = data
    end
    if err == "closed" then return concat(parts) end
    if err then return nil, read_failure(req, err, "body") end
  end
end

--- request(req) -> status, headers ({{name, value}, ...}), body | nil, failure {code=, message=, sent=}
-- req: a SEND step's request: {method=, url=, headers=, body=, timeout=, idempotent=}.
function _M.request(req)
  local scheme, host, port, target = parse_url(req.url)
  if not scheme then
    return nil, failure("INVALID_ARGUMENT", req, "not an http:// or https:// URL", false)
  end
  local deadline = ngx.now() + (req.timeout or 30)
  local sock, cerr = connect(req, scheme, host, port, deadline)
  if not sock then return nil, cerr end

  local sent, serr = sock:send(request_text(req, host, port, scheme, target))
  if not sent then
    sock:close()
    return nil, read_failure(req, serr, "sending")
  end

  local status, headers, body
  repeat
    local line, err = receive(sock, "*l", deadline)
    if not line then
      sock:close()
      return nil, read_failure(req, err, nil)
    end
    status = tonumber(line:match("^HTTP/1%.[01] (%d%d%d)"))
    if not status then
      sock:close()
      return nil, failure("UNAVAILABLE", req, "the answer is not HTTP/1.x", true)
    end
    headers, err = read_headers(sock, req, deadline)
    if not headers then
      sock:close()
      return nil, err
    end
  until status >= 200 -- 1xx answers come before the real one

  local keep = header(headers, "Connection")
  keep = not (keep and keep:lower():find("close", 1, true))
  local te = header(headers, "Transfer-Encoding")
  local length = header(headers, "Content-Length")
  local err
  if req.method == "HEAD" or status == 204 or status == 304 then
    body = ""
  elseif te and te:lower():find("chunked", 1, true) then
    body, err = read_chunked(sock, req, deadline)
  elseif length then
    local n = tonumber(length)
    if not n or n < 0 or n % 1 ~= 0 then
      err = failure("UNAVAILABLE", req, "the answer's Content-Length is not a number", true)
    elseif n > _M.MAX_BODY then
      err = too_large(req)
    elseif n == 0 then
      body = ""
    else
      local rerr
      body, rerr = receive(sock, n, deadline)
      if not body then err = read_failure(req, rerr, "body") end
    end
  else
    keep = false
    body, err = read_to_close(sock, req, deadline)
  end
  if not body then
    sock:close()
    return nil, err
  end
  if keep then
    sock:setkeepalive(_M.KEEPALIVE_IDLE_MS, _M.KEEPALIVE_POOL)
  else
    sock:close()
  end
  return status, headers, body
end

return _M
