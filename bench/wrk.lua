-- Counts answers by status across wrk's threads and prints one JSON line for bench/run.ts.
wrk.method = os.getenv("WRK_METHOD") or "GET"
local body = os.getenv("WRK_BODY")
if body and body ~= "" then
  wrk.body = body
  wrk.headers["Content-Type"] = "application/json"
end

-- WRK_TOKENS: buyer tokens separated by commas, sent in turn as Authorization: Bearer; or
-- WRK_TOKENS_FILE, one a line (an environment variable holds at most 128 KiB).
local tokens = {}
for token in string.gmatch(os.getenv("WRK_TOKENS") or "", "[^,]+") do
  table.insert(tokens, token)
end
local tokens_file = os.getenv("WRK_TOKENS_FILE")
if tokens_file and tokens_file ~= "" then
  for line in io.lines(tokens_file) do
    if line ~= "" then table.insert(tokens, line) end
  end
end
-- WRK_ONCE=1: each token is sent once (thread i of WRK_THREADS takes every WRK_THREADS-th), then
-- the thread stops: a storm of distinct buyers rather than the same buyers again and again.
local once = os.getenv("WRK_ONCE") == "1"
local nthreads = tonumber(os.getenv("WRK_THREADS") or "2")
if once and #tokens > 0 then
  local sent, answered, share = 0, 0, 0
  function request()
    sent = sent + 1
    local k = index + 1 + (sent - 1) * nthreads
    if k > #tokens then k = #tokens end
    wrk.headers["Authorization"] = "Bearer " .. tokens[k]
    return wrk.format()
  end
  function count_answer()
    if share == 0 then
      for k = index + 1, #tokens, nthreads do share = share + 1 end
    end
    answered = answered + 1
    if answered >= share then wrk.thread:stop() end
  end
elseif #tokens > 0 then
  local next_token = 0
  function request()
    next_token = next_token % #tokens + 1
    wrk.headers["Authorization"] = "Bearer " .. tokens[next_token]
    return wrk.format()
  end
end

local threads = {}
function setup(thread)
  thread:set("index", #threads)
  table.insert(threads, thread)
end

function init(args)
  ok, refused, too_many, other, not_started = 0, 0, 0, 0, 0
end

function response(status, headers, body)
  if count_answer then count_answer() end
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
