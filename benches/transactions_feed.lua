-- wrk script for benches/transactions_feed.sh: every request is the budgeting app's first page
-- of an account's feed, `GET /v1/accounts/{id}/transactions?limit=100` with its API key.
-- API_KEY and ACCOUNT_ID come from the environment (the seeding example prints them).

local key = os.getenv("API_KEY")
local account = os.getenv("ACCOUNT_ID")
if not key or not account then
  error("API_KEY and ACCOUNT_ID must be set")
end

wrk.method = "GET"
wrk.path = "/v1/accounts/" .. account .. "/transactions?limit=100"
wrk.headers["Authorization"] = "Bearer " .. key
wrk.headers["Accept"] = "application/json"

-- One machine-readable line for the driving script, after wrk's own report.
-- Latencies are in microseconds; errors count non-2xx answers too.
function done(summary, latency, requests)
  local seconds = summary.duration / 1e6
  local errors = summary.errors.connect + summary.errors.read + summary.errors.write
    + summary.errors.timeout + summary.errors.status
  io.write(string.format(
    "RESULT requests=%d seconds=%.3f rps=%.1f p50_us=%d p90_us=%d p99_us=%d max_us=%d errors=%d\n",
    summary.requests, seconds, summary.requests / seconds,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max, errors))
end
