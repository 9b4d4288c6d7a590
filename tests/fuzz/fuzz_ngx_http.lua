-- The Lua half of fuzz_ngx_http.c: a stub `ngx` (a clock that moves only when
-- the reader receives; a cosocket that serves the fuzz input as the server's
-- answer), lua/cloudrun/ngx_http.lua loaded on it with small caps, and the
-- oracle. Loaded with the module's path; returns run(input), which raises on
-- any finding.
--
-- An input: byte 1 (mod 8) is k, the next k bytes the schedule, the rest the
-- answer. Receive call i takes schedule byte (i-1) mod k + 1: 255 is a stall
-- (nothing comes until the read timeout), below 128 a piece of 1..16 bytes,
-- from 128 a piece of 1..4065 bytes; with no schedule, as much as is asked.
local module_path = ...

local STEP = 0.002                       -- seconds of the stub clock one receive takes
local TIMEOUT = 5                        -- the request's timeout, in seconds
local START = 1000                       -- the stub clock when a request starts
local MAX_RECEIVES = TIMEOUT / STEP + 2  -- as many as the deadline leaves room for
local CODES = { UNAVAILABLE = true, DEADLINE_EXCEEDED = true, RESOURCE_EXHAUSTED = true }

local S -- this input's state

ngx = { -- luacheck: ignore
  now = function() return S.clock end,
  update_time = function() end,
  sleep = function(s) S.clock = S.clock + s end,
  socket = {},
}

local function whole_ms(v)
  return type(v) == "number" and v >= 1 and v % 1 == 0
end

local Sock = {}
Sock.__index = Sock

function Sock.settimeouts(_, c, s, r)
  assert(whole_ms(c) and whole_ms(s) and whole_ms(r), "settimeouts: timeouts are whole positive milliseconds")
  assert(r <= (START + TIMEOUT - S.clock) * 1000 + 1, "a read timeout past the deadline")
  S.read_ms = r
end

function Sock.connect(_, host, port, opts)
  assert(type(host) == "string" and type(port) == "number" and type(opts) == "table")
  return 1
end

function Sock.getreusedtimes() return 0 end
function Sock.sslhandshake() return true end

function Sock.send(_, data)
  assert(type(data) == "string" and not S.closed)
  S.sent = true
  return #data
end

function Sock.receive()
  error("the reader must read bounded pieces (receiveany), not receive: nginx restarts its timeout with every byte")
end
Sock.receiveuntil = Sock.receive

function Sock.receiveany(_, max)
  assert(S.sent and not S.closed, "a receive before the request went out, or after close")
  assert(whole_ms(max), "receiveany: a bounded size")
  S.receives = S.receives + 1
  if S.receives > MAX_RECEIVES then
    error(("receiveany called %d times: more than a %gs deadline leaves room for"):format(S.receives, TIMEOUT))
  end
  local b = S.k > 0 and S.sched:byte((S.receives - 1) % S.k + 1) or nil
  local timeout = S.read_ms / 1000
  if b == 255 or STEP > timeout then
    S.clock = S.clock + timeout
    return nil, "timeout"
  end
  S.clock = S.clock + STEP
  if S.pos > #S.data then return nil, "closed" end
  local size = not b and max or b < 128 and 1 + b % 16 or 1 + (b - 128) * 32
  local piece = S.data:sub(S.pos, S.pos + math.min(size, max) - 1)
  S.pos = S.pos + #piece
  return piece
end

function Sock.close()
  S.closed = true
  return 1
end

function Sock.setkeepalive(_, idle, pool)
  assert(type(idle) == "number" and type(pool) == "number")
  S.closed, S.pooled = true, true
  return 1
end

function ngx.socket.tcp()
  S.sockets = S.sockets + 1
  return setmetatable({}, Sock)
end

local http = assert(loadfile(module_path))()
-- caps small enough for inputs to reach
http.MAX_BODY, http.MAX_HEADERS, http.PIECE, http.MAX_CHUNK_LINE = 4096, 1024, 1024, 64

local REQ = { method = "POST", url = "http://127.0.0.1:8080/v2/projects/p/locations/r/jobs/j:run",
  headers = { { "Authorization", "Bearer FUZZ-SECRET" }, { "Content-Type", "application/json" } },
  body = "{}", timeout = TIMEOUT, idempotent = false }

return function(input)
  local k = #input > 0 and input:byte(1) % 8 or 0
  S = { clock = START, receives = 0, sockets = 0, k = k, sched = input:sub(2, 1 + k), data = input:sub(2 + k),
        pos = 1 }
  local status, headers, body = http.request(REQ)
  assert(S.sockets == 1, "one socket per request")
  assert(S.closed, "the socket was neither closed nor pooled")
  assert(S.clock <= START + TIMEOUT + 0.002,
    ("the answer came after %.3f s, past the %g s deadline"):format(S.clock - START, TIMEOUT))
  if status then
    assert(type(status) == "number" and status % 1 == 0 and status >= 200 and status <= 999, "a status")
    assert(type(headers) == "table", "headers")
    local bytes = 0
    for _, kv in ipairs(headers) do
      assert(type(kv[1]) == "string" and kv[1] ~= "" and type(kv[2]) == "string", "a header")
      bytes = bytes + #kv[1] + #kv[2]
    end
    assert(bytes <= http.MAX_HEADERS, "headers past their cap")
    assert(type(body) == "string" and #body <= http.MAX_BODY, "a body past its cap")
  else
    local err = headers
    assert(type(err) == "table" and CODES[err.code], "a failure with a transport code: " .. tostring(err and err.code))
    assert(type(err.message) == "string" and err.sent == true, "a failure after sending says so")
    assert(not err.message:find("FUZZ-SECRET", 1, true), "the request's token in a message")
    assert(not S.pooled, "a failed connection went back to the pool")
  end
end
