-- Counts answers by status across wrk's threads and prints one JSON line for bench/run.ts.
wrk.method = os.getenv("WRK_METHOD") or "GET"
local body = os.getenv("WRK_BODY")
if body and body ~= "" then
  wrk.body = body
  wrk.headers["Content-Type"] = "application/json"
end

-- WRK_TOKENS: buyer tokens separated by commas, sent in turn as Authorization: Bearer.
local tokens = {}
for token in string.gmatch(os.getenv("WRK_TOKENS") or "", "[^,]+") do
  table.insert(tokens, token)
end
if #tokens > 0 then
  local next_token = 0
  function request()
    next_token = next_token % #tokens + 1
    wrk.headers["Authorization"] = "Bearer " .. tokens[next_token]
    return wrk.format()
  end
end

local threads = {}
function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  ok, refused, too_many, other, not_started = 0, 0, 0, 0, 0
end

function response(status, headers, body)
  if status == 200 or status == 201 then
    ok = ok + 1
  elseif status == 409 then
    refused = refused + 1
    if string.find(body, "sale_not_started", 1, true) then
      not_started = not_started + 1
    end
  elseif status == 429 then
    too_many = too_many + 1
  else
    other = other + 1
  end
end

function done(summary, latency, requests)
  local o, r, m, x, n = 0, 0, 0, 0, 0
  for _, t in ipairs(threads) do
    o = o + t:get("ok")
    r = r + t:get("refused")
    m = m + t:get("too_many")
    x = x + t:get("other")
    n = n + t:get("not_started")
  end
  local e = summary.errors
  io.write(string.format(
    'RESULT {"ok":%d,"refused":%d,"not_started":%d,"too_many":%d,"other":%d,"requests":%d,"duration_us":%d,"p50_us":%d,"p99_us":%d,"socket_errors":%d}\n',
    o, r, n, m, x, summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    e.connect + e.read + e.write + e.timeout))
end
