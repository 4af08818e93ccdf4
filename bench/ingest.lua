-- wrk script: POST one new message per request, each with its own external id.
-- wrk ... -s bench/ingest.lua URL -- <run prefix> <bearer token or -> <channel id>
-- Prints one JSON line with the run's figures when done.

local threads = {}
local counter = 0
local texts = {
  "@acmebooks my gift card order never arrived, this is the third time!",
  "Acme Books is my favourite shop, love the staff",
  "How do I use my loyalty points in store?",
  "The app is broken again. I want a refund.",
  "Saw Acme Books at the book fair, great stand",
  "Is the e-reader working for anyone else? Mine shows an error",
}

function setup(thread)
  table.insert(threads, thread)
  thread:set("tid", #threads)
end

function init(args)
  prefix = args[1] or "run"
  channel = args[3] or "1"
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/json"
  if args[2] and args[2] ~= "-" then
    wrk.headers["Authorization"] = "Bearer " .. args[2]
  end
end

function request()
  counter = counter + 1
  local body = string.format(
    '{"channel": %s, "external_id": "%s-%d-%d", "author": {"handle": "wrkfan%d", '
      .. '"name": "Wrk Fan", "followers": %d}, "text": "%s", '
      .. '"posted_at": "2026-11-26T08:00:00Z"}',
    channel, prefix, tid, counter, counter % 500, counter % 5000, texts[counter % #texts + 1]
  )
  return wrk.format(nil, nil, nil, body)
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '{"requests": %d, "duration_us": %d, "errors": %d, "status_errors": %d, '
      .. '"latency_p50_us": %d, "latency_p99_us": %d}\n',
    summary.requests, summary.duration, e.connect + e.read + e.write + e.timeout,
    e.status, latency:percentile(50), latency:percentile(99)
  ))
end
