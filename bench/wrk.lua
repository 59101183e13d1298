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

-- WRK_TOKENS_FILE: a storm of distinct buyers, one token a line: wrk's threads share the file's
-- tokens, and a thread stops once it has had as many answers as it has tokens (bench/run.ts
-- interrupts wrk once the server has counted them all, and wrk prints what it measured).
local tokens_file = os.getenv("WRK_TOKENS_FILE")
local threads_n = tonumber(os.getenv("WRK_THREADS") or "2")

local threads = {}
function setup(thread)
  table.insert(threads, thread)
  thread:set("index", #threads)
end

function init(args)
  ok, refused, too_many, other, not_started = 0, 0, 0, 0, 0
  if tokens_file and tokens_file ~= "" then
    local mine, n = {}, 0
    for line in io.lines(tokens_file) do
      n = n + 1
      if line ~= "" and n % threads_n == index % threads_n then table.insert(mine, line) end
    end
    -- In turn and round again: wrk asks one request of its first thread up front without sending
    -- it, and that token must still go out; a token sent twice is its buyer's same ticket (200).
    if #mine == 0 then error("WRK_TOKENS_FILE has fewer tokens than wrk has threads") end
    local sent, answered = 0, 0
    function request()
      sent = sent % #mine + 1
      wrk.headers["Authorization"] = "Bearer " .. mine[sent]
      return wrk.format()
    end
    local count = response
    function response(status, headers, body)
      count(status, headers, body)
      answered = answered + 1
      if answered >= #mine then wrk.thread:stop() end
    end
  end
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
