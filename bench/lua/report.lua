-- Shared by every script: numbers each thread (setup) and prints exact figures as one JSON line
-- (done). Per-thread counters, kept as globals in each thread's Lua state:
--   bad     responses whose status was not the one the script expects
--   cycles  completed units of work (a check-in + check-out cycle, or one request)
local threads = {}

function setup(thread)
  table.insert(threads, thread)
  thread:set("id", #threads)
end

function done(summary, latency, requests)
  local bad, cycles = 0, 0
  for _, t in ipairs(threads) do
    bad = bad + (t:get("bad") or 0)
    cycles = cycles + (t:get("cycles") or 0)
  end
  local e = summary.errors
  io.write(string.format(
    'BENCH_JSON {"requests":%d,"duration_us":%d,"bytes":%d,"p50_us":%d,"p90_us":%d,"p99_us":%d,'
      .. '"max_us":%d,"mean_us":%.1f,"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,'
      .. '"timeout":%d},"bad":%d,"cycles":%d,"threads":%d}\n',
    summary.requests, summary.duration, summary.bytes,
    latency:percentile(50), latency:percentile(90), latency:percentile(99),
    latency.max, latency.mean,
    e.connect, e.read, e.write, e.status, e.timeout, bad, cycles, #threads))
end
