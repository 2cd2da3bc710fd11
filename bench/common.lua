-- common.lua — shared by pay.lua and reads.lua (wrk 4.1, LuaJIT): the seeded data set,
-- a per-thread id, and one machine-readable result line from done().
--
-- wrk runs setup() and done() in its main Lua state and init()/request() in one state per
-- thread, so everything a thread needs is read again in init(args).
-- Script arguments (after `--`): SEED_DIR TOKEN NONCE [ORDER_AMOUNT]

local M = {}

local next_tid = 0
function M.setup(thread)
  next_tid = next_tid + 1
  thread:set("tid", next_tid)
end

function M.load(dir)
  local merchant
  for line in io.lines(dir .. "/seed.env") do
    local k, v = line:match("^([%w_]+)=(.*)$")
    if k == "MERCHANT_ID" then merchant = v end
  end
  local members = {}
  for line in io.lines(dir .. "/members.txt") do
    if #line > 0 then members[#members + 1] = line end
  end
  assert(merchant and #members > 0, "seed files are incomplete in " .. dir)
  return merchant, members
end

-- done(): every number wrk has, as one line of JSON prefixed BENCH_WRK (microseconds).
function M.done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'BENCH_WRK {"requests":%d,"duration_us":%d,"bytes":%d,"errors_connect":%d,"errors_read":%d,' ..
    '"errors_write":%d,"errors_status":%d,"errors_timeout":%d,"p50_us":%d,"p95_us":%d,"p99_us":%d,' ..
    '"max_us":%d,"mean_us":%.1f}\n',
    summary.requests, summary.duration, summary.bytes, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(95), latency:percentile(99), latency.max, latency.mean))
end

return M
