-- The front desk: check a member in, then out, then the next member. Run with as many threads as
-- connections (-t16 -c16) so each thread owns one connection and its cycle state is exact.
-- Each thread takes every n-th line of the member file (distinct members across threads).
-- args: token members_file nthreads
-- A member line is "<member_number>" ; the check-in body names it as the front desk's reader does.
dofile("report.lua")

bad, cycles = 0, 0
local members, idx, visit_id = {}, 0, nil
local headers

function init(args)
  headers = {
    ["Authorization"] = "Bearer " .. args[1],
    ["Content-Type"] = "application/json",
    ["Accept"] = "application/json",
  }
  local nthreads = tonumber(args[3])
  local i = 0
  for line in io.lines(args[2]) do
    if line ~= "" then
      if (i % nthreads) == (id - 1) then table.insert(members, line) end
      i = i + 1
    end
  end
end

function request()
  if visit_id == nil then
    idx = idx % #members + 1
    return wrk.format("POST", "/v1/visits", headers, '{"member_number":"' .. members[idx] .. '"}')
  end
  return wrk.format("POST", "/v1/visits/" .. visit_id .. "/check-out", headers, "")
end

function response(status, hdrs, body)
  if visit_id == nil then
    if status == 201 or status == 200 then
      visit_id = body:match('"id"%s*:%s*"([^"]+)"')
      if visit_id == nil then bad = bad + 1 end
    else
      bad = bad + 1
      if bad == 1 then io.stderr:write("check-in " .. status .. ": " .. body:sub(1, 300) .. "\n") end
    end
  else
    if status == 200 then
      cycles = cycles + 1
    else
      bad = bad + 1
      if bad == 1 then io.stderr:write("check-out " .. status .. ": " .. body:sub(1, 300) .. "\n") end
    end
    visit_id = nil
  end
end
