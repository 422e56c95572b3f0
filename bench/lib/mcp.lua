-- wrk script for Gatehouse benchmarks: POSTs of a 323-byte JSON-RPC tools/call, each with a
-- unique id (a fixed id collides in real MCP servers under concurrency), inside an MCP session
-- that bench/run.sh set up beforehand (initialize + notifications/initialized over curl, so the
-- setup is neither timed nor counted, and one session serves every connection).
--
-- Arguments (after `--`): <session-id> [protocol-version] [token-file]
-- Prints one machine-readable line at the end, starting with "BENCH ", that run.sh parses.
--
-- token-file (Part D): access tokens, one a line. With one token every request carries
-- `Authorization: Bearer <it>` (built into the fixed request prefix, like the other headers). With
-- more, each request presents the next token, every token once: when all are sent the thread stops
-- at the response that completes that many requests (the few requests already in flight then repeat
-- the last token; they are counted as `reused`). wrk's main thread still sleeps until -d ends, so a
-- stopped run reports its own duration (first request to stop, monotonic clock).

local BODY_LEN = 323
local threads = {}
local tcount = 0

function setup(thread)
  thread:set("tid", tcount)
  tcount = tcount + 1
  table.insert(threads, thread)
end

local headers, prefix, suffix
local counter = 0
local idbase = 0
local tokens, ntokens, tokhead, toktail = nil, 0, nil, nil
local t0, t1 = nil, nil
local responses = 0
non2xx = 0
rpcerr = 0
reused = 0
stopped_us = 0
ntok = 0 -- ntokens, as a global that done() can read from the thread

local ffi = require("ffi")
ffi.cdef[[
  struct gh_timespec { long tv_sec; long tv_nsec; };
  int clock_gettime(int clk, struct gh_timespec *ts);
]]
local ts = ffi.new("struct gh_timespec")
local function now_us()
  ffi.C.clock_gettime(1, ts) -- CLOCK_MONOTONIC
  return tonumber(ts.tv_sec) * 1000000 + math.floor(tonumber(ts.tv_nsec) / 1000)
end

local function read_tokens(path)
  local list = {}
  for line in io.lines(path) do
    if line ~= "" then table.insert(list, line) end
  end
  return list
end

function init(args)
  local session = args[1] or ""
  local version = args[2] or "2025-06-18"
  headers = {
    ["Content-Type"] = "application/json",
    ["Accept"] = "application/json, text/event-stream",
    ["MCP-Protocol-Version"] = version,
  }
  if session ~= "" then headers["Mcp-Session-Id"] = session end
  local mark = "\1TOKEN\1"
  if args[3] and args[3] ~= "" then
    tokens = read_tokens(args[3])
    ntokens = #tokens
    ntok = ntokens
    if ntokens == 1 then
      headers["Authorization"] = "Bearer " .. tokens[1]
    elseif ntokens > 1 then
      headers["Authorization"] = "Bearer " .. mark
    end
  end
  -- ids are 10 digits wide (1xxxxxxxxx) so every body has the same length; each thread
  -- owns a disjoint range of 10^8 ids.
  idbase = 1000000000 + tid * 100000000
  local head = '{"jsonrpc":"2.0","id":%d,"method":"tools/call","params":{"name":"echo",'
    .. '"arguments":{"message":"'
  local tail = '"}}}'
  local probe = string.format(head, idbase) .. tail
  local pad = BODY_LEN - #probe
  if pad < 0 then pad = 0 end
  -- The request line, headers and Content-Length are the same for every request (the body's
  -- length is fixed), so they are built once: wrk then spends its core on I/O, not on Lua.
  local body1 = string.format(head, idbase) .. string.rep("x", pad) .. tail
  local whole = wrk.format("POST", nil, headers, body1)
  local cut = #whole - #body1
  prefix = string.sub(whole, 1, cut) .. string.sub(head, 1, string.find(head, "%d", 1, true) - 1)
  suffix = string.sub(head, string.find(head, "%d", 1, true) + 2) .. string.rep("x", pad) .. tail
  if ntokens > 1 then
    local at = string.find(prefix, mark, 1, true)
    tokhead = string.sub(prefix, 1, at - 1)
    toktail = string.sub(prefix, at + #mark)
  end
end

function request()
  counter = counter + 1
  if ntokens <= 1 then
    return prefix .. (idbase + counter) .. suffix
  end
  if not t0 then t0 = now_us() end
  local i = counter
  if i > ntokens then
    i = ntokens
    reused = reused + 1
  end
  return tokhead .. tokens[i] .. toktail .. (idbase + counter) .. suffix
end

function response(status, hdrs, body)
  if ntokens > 1 then
    responses = responses + 1
    if responses == ntokens then
      t1 = now_us()
      stopped_us = t1 - t0
      wrk.thread:stop()
    end
  end
  if status < 200 or status > 299 then
    non2xx = non2xx + 1
  elseif body and (string.find(body, '"error":{', 1, true) or string.find(body, '"isError":true', 1, true)) then
    -- a JSON-RPC error, or a tool result flagged isError, inside a 2xx answer (JSON or SSE
    -- framing) is a failed call too
    rpcerr = rpcerr + 1
  end
end

function done(summary, latency, requests)
  local bad, rpc, rep, stop_us, ntk = 0, 0, 0, 0, 0
  for _, t in ipairs(threads) do
    bad = bad + (t:get("non2xx") or 0)
    rpc = rpc + (t:get("rpcerr") or 0)
    rep = rep + (t:get("reused") or 0)
    stop_us = math.max(stop_us, t:get("stopped_us") or 0)
    ntk = ntk + (t:get("ntok") or 0)
  end
  local e = summary.errors
  local extra = ""
  if ntk > 1 then
    extra = string.format(" tokens=%d reused=%d stopped=%d", ntk, rep, stop_us > 0 and 1 or 0)
  end
  io.write(string.format(
    "BENCH requests=%d duration_us=%d p50_us=%d p99_us=%d non2xx=%d rpc_errors=%d "
      .. "sock_errors=%d timeouts=%d%s\n",
    summary.requests, stop_us > 0 and stop_us or summary.duration, latency:percentile(50),
    latency:percentile(99), bad, rpc, e.connect + e.read + e.write, e.timeout, extra))
end
