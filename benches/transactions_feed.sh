#!/usr/bin/env bash
# The transactions-feed benchmark (issue 5): with 100,000 transactions stored,
# `GET /v1/accounts/{id}/transactions?limit=100` must sustain at least 5,000 requests/s with a p99
# under 20 ms on the project's 2-core machine.
#
# Usage: benches/transactions_feed.sh [--postgres ADMIN_URL] [--duration 20s]
#
# - SQLite always (a fresh database in a temporary folder); PostgreSQL too when `--postgres URL`
#   or PASSERELLE_TEST_POSTGRES_URL names a server where a fresh database may be created (it is
#   dropped afterwards).
# - Builds `--release`, seeds with `examples/seed_feed.rs`, starts `passerelle serve` on a free
#   loopback port with the sandbox off, warms up, runs wrk (Debian's; installed when missing),
#   prints requests/s, p50 and p99, says PASS or FAIL per backend, then stops the server and
#   cleans up. Loopback only; every step is bounded in time.
# - Each backend runs twice on the same seeded database: as configured by default (the feed page
#   cache on; this run is judged against the targets), then with `PASSERELLE_FEED_CACHE_MB=0`,
#   where every request reads and serializes its rows, as the first request after a sync does
#   (printed for reference, not judged). BENCH_UNCACHED=0 skips the second run.
# - Knobs (environment): BENCH_THREADS (2), BENCH_CONNECTIONS (32), BENCH_DURATION (20s),
#   BENCH_WARMUP (5s), BENCH_TRANSACTIONS (100000), BENCH_MIN_RPS (5000), BENCH_MAX_P99_MS (20),
#   RUST_LOG (the server's log filter; default `info`, as in production), BENCH_UNCACHED (1).
#
# Exit status: 0 when every backend run passes, 1 when one fails the targets, 2 on a setup error.

set -euo pipefail

cd "$(dirname "$0")/.."
root=$(pwd)

threads=${BENCH_THREADS:-2}
connections=${BENCH_CONNECTIONS:-32}
duration=${BENCH_DURATION:-20s}
warmup=${BENCH_WARMUP:-5s}
count=${BENCH_TRANSACTIONS:-100000}
min_rps=${BENCH_MIN_RPS:-5000}
max_p99_ms=${BENCH_MAX_P99_MS:-20}
pg_admin=${PASSERELLE_TEST_POSTGRES_URL:-}
uncached=${BENCH_UNCACHED:-1}

while [ $# -gt 0 ]; do
  case "$1" in
    --postgres) pg_admin=${2:?--postgres needs a URL}; shift 2 ;;
    --duration) duration=${2:?--duration needs a value like 20s}; shift 2 ;;
    -h|--help) sed -n '2,20p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "unknown argument: $1 (see --help)" >&2; exit 2 ;;
  esac
done

say() { printf '==> %s\n' "$*" >&2; }

if ! command -v wrk >/dev/null 2>&1; then
  say "installing wrk (Debian package)"
  apt-get install -y wrk >/dev/null 2>&1 || { apt-get update >/dev/null && apt-get install -y wrk >/dev/null; }
fi

say "building passerelle and the seeding example (--release)"
cargo build --release --quiet --bin passerelle --example seed_feed
bin=$root/target/release/passerelle
seed=$root/target/release/examples/seed_feed

tmp=$(mktemp -d "${TMPDIR:-/tmp}/passerelle-bench.XXXXXX")
server_pid=
pg_db=
cleanup() {
  if [ -n "$server_pid" ] && kill -0 "$server_pid" 2>/dev/null; then
    kill -TERM "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
  fi
  if [ -n "$pg_db" ]; then
    psql "$pg_admin" -qAtc "DROP DATABASE IF EXISTS $pg_db WITH (FORCE)" >/dev/null 2>&1 || true
  fi
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Seeds `url`, serves it, runs wrk; appends one summary line to $tmp/summary and returns 1 when
# it misses a target, 2 on a setup error. Runs in the main shell (not `$(…)`), so the EXIT trap
# sees the server's pid and stops it whatever happens.
run_backend() {
  local name=$1 url=$2 data=$tmp/data-$1
  mkdir -p "$data"
  say "[$name] seeding $count transactions"
  local seeded
  seeded=$(PASSERELLE_DATABASE_URL=$url PASSERELLE_DATA_DIR=$data RUST_LOG=warn \
    timeout 600 "$seed" "$count" | tail -n 1) || { say "[$name] seeding failed"; return 2; }
  local api_key account_id
  api_key=$(sed -n 's/.*API_KEY=\([^ ]*\).*/\1/p' <<<"$seeded")
  account_id=$(sed -n 's/.*ACCOUNT_ID=\([^ ]*\).*/\1/p' <<<"$seeded")
  if [ -z "$api_key" ] || [ -z "$account_id" ]; then
    say "[$name] the seeding printed no API_KEY/ACCOUNT_ID"; return 2
  fi

  local judged=0
  measure "$name" "$url" "$data" "$api_key" "$account_id" "" judged || judged=$?
  [ "$judged" -le 1 ] || return "$judged"
  if [ "$uncached" = 1 ]; then
    measure "$name" "$url" "$data" "$api_key" "$account_id" 0 reference || return $?
  fi
  return "$judged"
}

# Serves `url` (with PASSERELLE_FEED_CACHE_MB=$6 when set), warms up, runs wrk, stops the server
# and appends one summary line; a `judged` run returns 1 when it misses a target.
measure() {
  local name=$1 url=$2 data=$3 api_key=$4 account_id=$5 cache_mb=$6 kind=$7
  local label=$name
  [ -n "$cache_mb" ] && label="$name, page cache off"
  # Port 0: the kernel picks a free port, which the JSON log line "Passerelle is listening" names.
  local log=$data/server.log
  env ${cache_mb:+PASSERELLE_FEED_CACHE_MB=$cache_mb} \
    PASSERELLE_DATABASE_URL=$url PASSERELLE_DATA_DIR=$data PASSERELLE_LISTEN=127.0.0.1:0 \
    PASSERELLE_PUBLIC_URL=http://127.0.0.1:8080 PASSERELLE_SANDBOX_LISTEN= \
    PASSERELLE_LOG_FORMAT=json RUST_LOG=${RUST_LOG:-info} \
    "$bin" serve >"$log" 2>&1 &
  server_pid=$!
  local port= i
  for i in $(seq 1 300); do
    port=$(sed -n 's/.*"port":\([0-9]*\).*Passerelle is listening.*/\1/p; s/.*Passerelle is listening.*"port":\([0-9]*\).*/\1/p' "$log" | head -n 1)
    [ -n "$port" ] && break
    kill -0 "$server_pid" 2>/dev/null || { say "[$label] the server stopped:"; cat "$log" >&2; return 2; }
    sleep 0.1
  done
  [ -n "$port" ] || { say "[$label] the server did not start in 30 s"; return 2; }
  local base=http://127.0.0.1:$port
  curl -fsS --max-time 5 -H "Authorization: Bearer $api_key" \
    "$base/v1/accounts/$account_id/transactions?limit=100" -o "$data/page.json" ||
    { say "[$label] the first request failed"; return 2; }
  local rows
  rows=$(grep -o '"id":' "$data/page.json" | wc -l)
  [ "$rows" -eq 100 ] || { say "[$label] expected 100 transactions on the page, got $rows"; return 2; }

  export API_KEY=$api_key ACCOUNT_ID=$account_id
  local script=$root/benches/transactions_feed.lua
  say "[$label] warming up ($warmup)"
  timeout 120 wrk -t"$threads" -c"$connections" -d"$warmup" -s "$script" "$base" >/dev/null ||
    { say "[$label] wrk failed"; return 2; }
  say "[$label] wrk -t$threads -c$connections -d$duration --latency $base/v1/accounts/…/transactions?limit=100"
  local report
  report=$(timeout 600 wrk -t"$threads" -c"$connections" -d"$duration" --latency -s "$script" "$base") ||
    { say "[$label] wrk failed"; return 2; }
  printf '%s\n' "$report" >&2

  kill -TERM "$server_pid" 2>/dev/null || true
  wait "$server_pid" 2>/dev/null || true
  server_pid=

  local result
  result=$(grep '^RESULT ' <<<"$report") || { say "[$label] wrk printed no RESULT line"; return 2; }
  local rps p50 p99 errors
  rps=$(sed -n 's/.* rps=\([0-9.]*\).*/\1/p' <<<"$result")
  p50=$(sed -n 's/.* p50_us=\([0-9]*\).*/\1/p' <<<"$result")
  p99=$(sed -n 's/.* p99_us=\([0-9]*\).*/\1/p' <<<"$result")
  errors=$(sed -n 's/.* errors=\([0-9]*\).*/\1/p' <<<"$result")
  local verdict
  verdict=$(awk -v rps="$rps" -v p99="$p99" -v err="$errors" -v min="$min_rps" -v max="$max_p99_ms" \
    'BEGIN { print (rps >= min && p99 / 1000 < max && err == 0) ? "PASS" : "FAIL" }')
  local judged_as="$verdict (target: >= $min_rps req/s, p99 < $max_p99_ms ms)"
  [ "$kind" = judged ] || judged_as="reference, not judged"
  printf '%-28s %10.0f req/s   p50 %6.2f ms   p99 %6.2f ms   errors %s   %s\n' \
    "$label" "$rps" "$(awk -v v="$p50" 'BEGIN{print v/1000}')" "$(awk -v v="$p99" 'BEGIN{print v/1000}')" \
    "$errors" "$judged_as" | tee -a "$tmp/summary" >&2
  [ "$kind" != judged ] || [ "$verdict" = PASS ]
}

status=0
record() { local s=$1; [ "$s" -gt "$status" ] && status=$s; return 0; }
run_backend sqlite "sqlite://$tmp/bench.db" || record $?

if [ -n "$pg_admin" ]; then
  pg_db=passerelle_bench_$(date +%s)_$$
  psql "$pg_admin" -qAtc "CREATE DATABASE $pg_db" >/dev/null
  # Same server and credentials, the fresh database as path (any query string is kept).
  pg_base=${pg_admin%%\?*}
  pg_query=${pg_admin#"$pg_base"}
  if [[ $pg_base =~ ^[a-z]+://[^/]*$ ]]; then pg_url=$pg_base/$pg_db; else pg_url=${pg_base%/*}/$pg_db; fi
  run_backend postgres "$pg_url$pg_query" || record $?
else
  say "PostgreSQL skipped (set PASSERELLE_TEST_POSTGRES_URL or pass --postgres URL)"
fi

echo
echo "transactions feed, $count transactions, limit=100, wrk -t$threads -c$connections -d$duration on $(nproc) cores:"
cat "$tmp/summary" 2>/dev/null || true
exit "$status"
