-- wrk script for the memory run: alternates a valid and an invalid session
-- cookie and counts every status. bench/run.mjs repeats it until enough
-- requests were sent.
local threads = {}
local valid = os.getenv("BENCH_VALID_COOKIE")
local invalid = os.getenv("BENCH_INVALID_COOKIE")
local cf = os.getenv("BENCH_CF_BLOB")

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  ok, denied, other, sent, received = 0, 0, 0, 0, 0
  local function req(cookie)
    return wrk.format("GET", "/mixed", { ["Host"] = wrk.host, ["cf-blob"] = cf, ["Cookie"] = "__Host-session=" .. cookie })
  end
  reqs = { req(valid), req(invalid) }
end

function request()
  sent = sent + 1
  return reqs[sent % 2 + 1]
end

function response(status, headers, body)
  received = received + 1
  if status == 200 then ok = ok + 1 elseif status == 401 then denied = denied + 1 else other = other + 1 end
end

function done(summary, latency, requests)
  local t_ok, t_denied, t_other = 0, 0, 0
  for _, t in ipairs(threads) do
    t_ok = t_ok + t:get("ok")
    t_denied = t_denied + t:get("denied")
    t_other = t_other + t:get("other")
  end
  local e = summary.errors
  io.write(string.format(
    'BENCH {"requests":%d,"duration_us":%d,"ok":%d,"denied":%d,"other":%d,"connect":%d,"read":%d,"write":%d,"timeout":%d,"p50_us":%d,"p99_us":%d}\n',
    summary.requests, summary.duration, t_ok, t_denied, t_other, e.connect, e.read, e.write, e.timeout,
    latency:percentile(50), latency:percentile(99)))
end
