-- reads.lua — workload (c): a read mix, in turn POST /api/payment/quote, GET /api/wallet and
-- GET /api/merchants/{m}/transactions?limit=20, members picked at random, a staff token.
--   wrk -t2 -c64 -d10s --latency -s bench/reads.lua http://127.0.0.1:PORT -- SEED_DIR TOKEN NONCE
package.path = debug.getinfo(1, "S").source:match("^@(.*/)") .. "?.lua;" .. package.path
local common = require("common")

setup = common.setup
done = common.done

local merchant, members, headers, get_headers
local n = 0

function init(args)
  merchant, members = common.load(args[1])
  math.randomseed((tid or 1) * 104729 + os.time())
  headers = { ["Authorization"] = "Bearer " .. args[2], ["Content-Type"] = "application/json" }
  get_headers = { ["Authorization"] = "Bearer " .. args[2] }
end

function request()
  n = n + 1
  local member = members[math.random(#members)]
  local turn = n % 3
  if turn == 0 then
    return wrk.format("POST", "/api/payment/quote", headers,
      '{"merchantId":"' .. merchant .. '","userId":"' .. member .. '","orderAmount":5200}')
  elseif turn == 1 then
    return wrk.format("GET", "/api/wallet?merchantId=" .. merchant .. "&userId=" .. member, get_headers)
  end
  return wrk.format("GET", "/api/merchants/" .. merchant .. "/transactions?limit=20", get_headers)
end
