-- GET a path for a random id from a file (one id per line), e.g. /v1/kpis/{id}/progress.
-- args: ids_file path_template(with {id}) expected_status
dofile("report.lua")

bad, cycles = 0, 0
local ids, template, expected = {}, nil, 200

function init(args)
  for line in io.lines(args[1]) do
    if line ~= "" then table.insert(ids, line) end
  end
  template = args[2]
  expected = tonumber(args[3] or "200")
  math.randomseed(os.time() + (id or 0) * 7919)
end

function request()
  local path = template:gsub("{id}", ids[math.random(#ids)])
  return wrk.format("GET", path, { ["Accept"] = "application/json" })
end

function response(status, headers, body)
  if status == expected then cycles = cycles + 1 else bad = bad + 1 end
end
