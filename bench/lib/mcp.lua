-- wrk script for Gatehouse benchmarks: POSTs of a 323-byte JSON-RPC tools/call, each with a
-- unique id (a fixed id collides in real MCP servers under concurrency), inside an MCP session
-- that bench/run.sh set up beforehand (initialize + notifications/initialized over curl, so the
-- setup is neither timed nor counted, and one session serves every connection).
--
-- Arguments (after `--`): <session-id> [protocol-version]
-- Prints one machine-readable line at the end, starting with "BENCH ", that run.sh parses.

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
non2xx = 0
rpcerr = 0

function init(args)
  local session = args[1] or ""
  local version = args[2] or "2025-06-18"
  headers = {
    ["Content-Type"] = "application/json",
    ["Accept"] = "application/json, text/event-stream",
    ["MCP-Protocol-Version"] = version,
  }
  if session ~= "" then headers["Mcp-Session-Id"] = session end
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
end

function request()
  counter = counter + 1
  return prefix .. (idbase + counter) .. suffix
end

function response(status, hdrs, body)
  if status < 200 or status > 299 then
    non2xx = non2xx + 1
  elseif body and (string.find(body, '"error":{', 1, true) or string.find(body, '"isError":true', 1, true)) then
    -- a JSON-RPC error, or a tool result flagged isError, inside a 2xx answer (JSON or SSE
    -- framing) is a failed call too
    rpcerr = rpcerr + 1
  end
end

function done(summary, latency, requests)
  local bad, rpc = 0, 0
  for _, t in ipairs(threads) do
    bad = bad + (t:get("non2xx") or 0)
    rpc = rpc + (t:get("rpcerr") or 0)
  end
  local e = summary.errors
  io.write(string.format(
    "BENCH requests=%d duration_us=%d p50_us=%d p99_us=%d non2xx=%d rpc_errors=%d "
      .. "sock_errors=%d timeouts=%d\n",
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    bad, rpc, e.connect + e.read + e.write, e.timeout))
end
