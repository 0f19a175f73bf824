-- GET one fixed path with a bearer token and expect one status.
-- args: path expected_status token
--   usage statistics:  /v1/usage-stats?month=2026-11 200 <staff token>
dofile("report.lua")

bad, cycles = 0, 0
local expected, req

function init(args)
  expected = tonumber(args[2])
  req = wrk.format("GET", args[1], { ["Accept"] = "application/json", ["Authorization"] = "Bearer " .. args[3] })
end

function request()
  return req
end

function response(status, headers, body)
  if status == expected then cycles = cycles + 1 else bad = bad + 1 end
end
