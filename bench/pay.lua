-- pay.lua — workload (a): POST /api/payment/verify, PAID at once (the order is far below the
-- funded wallet), a staff token, a fresh Idempotency-Key per request ("wrk-NONCE-THREAD-N"),
-- members picked at random over the seeded set so the load spreads over N wallets.
--   wrk -t2 -c64 -d10s --latency -s bench/pay.lua http://127.0.0.1:PORT -- SEED_DIR TOKEN NONCE [AMOUNT]
package.path = debug.getinfo(1, "S").source:match("^@(.*/)") .. "?.lua;" .. package.path
local common = require("common")

setup = common.setup
done = common.done

local merchant, members, nonce, amount, headers
local n = 0

function init(args)
  local dir, token
  dir, token, nonce, amount = args[1], args[2], args[3], tonumber(args[4] or "100")
  merchant, members = common.load(dir)
  math.randomseed((tid or 1) * 7919 + os.time())
  headers = { ["Authorization"] = "Bearer " .. token, ["Content-Type"] = "application/json" }
end

function request()
  n = n + 1
  local member = members[math.random(#members)]
  headers["Idempotency-Key"] = "wrk-" .. nonce .. "-" .. (tid or 0) .. "-" .. n
  local body = '{"merchantId":"' .. merchant .. '","userId":"' .. member .. '","orderAmount":' .. amount .. '}'
  return wrk.format("POST", "/api/payment/verify", headers, body)
end
