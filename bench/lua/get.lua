-- GET one fixed path and expect one status.
-- args: path expected_status [if_none_match]
--   kpi list, full response:  /v1/kpis?limit=500 200
--   kpi list, 304 path:       /v1/kpis?limit=500 304 '"etag-value"'
dofile("report.lua")

bad, cycles = 0, 0
local expected, req

function init(args)
  local path = args[1]
  expected = tonumber(args[2])
  local headers = { ["Accept"] = "application/json" }
  if args[3] ~= nil and args[3] ~= "" then
    headers["If-None-Match"] = args[3]
  end
  req = wrk.format("GET", path, headers)
end

function request()
  return req
end

function response(status, headers, body)
  if status == expected then cycles = cycles + 1 else bad = bad + 1 end
end
