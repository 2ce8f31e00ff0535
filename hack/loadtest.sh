#!/usr/bin/env bash
# loadtest.sh: make loadtest (the full run) and make loadtest-smoke (SMOKE=1).
# docs/performance.md says how to read what it prints.
#
# By default it starts the local infrastructure (hack/devenv.sh up; left
# running) and the three services, built with hack/build.sh and run in the
# background on ports of their own (18081-18083) against a scratch database, a
# topic, consumer groups and Redis keys of their own, so that a `make run` or a
# test beside it is neither disturbed nor counted. Then:
#
#   1. the infrastructure alone: pgbench runs the services' two write
#      transactions (hack/loadtest/pgbench/) at each connection count, on a
#      scratch copy of the schema; redis-benchmark GET with 16 clients;
#   2. seeds SEED_ORDERS orders (hack/loadtest/seed);
#   3. at each connection count, DURATION of wrk per scenario
#      (hack/loadtest/wrk/): create-legacy, create-v1, update, fetch, list, track,
#      each after the event pipeline went idle;
#   4. creates and updates at a fixed rate, half what wrk reached for them at
#      the largest connection count (hack/loadtest/openloop): the latency a
#      client sees below saturation;
#   5. a create burst (hack/loadtest/burst): create-legacy at the largest
#      connection count for BURST_DURATION, then the drain until both
#      consumers took every event; what every process of the system (not wrk)
#      spent on it in CPU time, and how long the drain took;
#   6. the freshness probe (hack/loadtest/freshness) at each rate of RATES;
#   7. the services' memory; then each service is stopped and started again
#      alone, timed from exec to /readyz 200 (hack/loadtest/startup); then the
#      report (hack/loadtest/report) prints every figure, the HTTP ones as
#      ratios to step 1's, checks the thresholds and sets the exit status.
#      Services and scratch data are removed.
#
# With URL=http://host:8081 it loads services that already run instead
# (TRACKING_URL defaults to the same host on :8082): steps 2-4, 6 and the report,
# plus step 1 when PostgreSQL and Redis answer locally; no burst, start-up or
# memory figures.
#
# Settings (environment or make variables), full run / smoke:
#   DURATION=30s / 1s        wrk time per scenario and connection count, pgbench time per run
#   CONNECTIONS="16 64" / 2  wrk connections, pgbench clients
#   RATES=50,200,1000 / 20   freshness probe rates, changes/s
#   FRESHNESS_DURATION=10s / 2s   time per rate
#   BURST_DURATION=10s / 1s  the create burst's length (at the last of CONNECTIONS)
#   WITHIN=5s / 30s          a change not seen this long after its 2xx is never seen
#   SEED_ORDERS=2000 / 200   orders created before the scenarios
#   P99_MAX=1s / 0           HTTP p99 limit per scenario (0: none)
#   FRESHNESS_P99_MAX=0      freshness p99 limit (0: none)
#   LIST_QUERY=customerName=loadtest-list   the list scenario's filter (the seed's first 50 orders)
#   ORDERS_PORT=18081 TRACKING_PORT=18082 NOTIFICATION_PORT=18083
#   URL=, TRACKING_URL=, NOTIFICATION_URL=   services already running
#   VERSION                  the version in the report's title (default: git describe, as hack/build.sh)
# The smoke asserts correctness only (every answer as expected, every change
# seen), never a performance figure, so a loaded CI machine does not fail it.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
# shellcheck source-path=SCRIPTDIR source=loadtest/lib.sh
. hack/loadtest/lib.sh

SMOKE=${SMOKE:-0}
if [ "$SMOKE" = 1 ]; then
  : "${DURATION:=1s}" "${CONNECTIONS:=2}" "${RATES:=20}" "${FRESHNESS_DURATION:=2s}" "${WITHIN:=30s}" "${BURST_DURATION:=1s}"
  : "${SEED_ORDERS:=200}" "${P99_MAX:=0}" "${WRK_TIMEOUT:=10s}" "${SETTLE_TIMEOUT:=20}" "${REDIS_REQUESTS:=5000}"
fi
DURATION=${DURATION:-30s}
CONNECTIONS=${CONNECTIONS:-16 64}
RATES=${RATES:-50,200,1000}
FRESHNESS_DURATION=${FRESHNESS_DURATION:-10s}
BURST_DURATION=${BURST_DURATION:-10s}
WITHIN=${WITHIN:-5s}
SEED_ORDERS=${SEED_ORDERS:-2000}
P99_MAX=${P99_MAX:-1s}
FRESHNESS_P99_MAX=${FRESHNESS_P99_MAX:-0}
LIST_QUERY=${LIST_QUERY:-customerName=loadtest-list}
SETTLE_TIMEOUT=${SETTLE_TIMEOUT:-60}
REDIS_REQUESTS=${REDIS_REQUESTS:-200000}
ORDERS_PORT=${ORDERS_PORT:-18081}
TRACKING_PORT=${TRACKING_PORT:-18082}
NOTIFICATION_PORT=${NOTIFICATION_PORT:-18083}
export WRK_TIMEOUT=${WRK_TIMEOUT:-5s}
SCENARIOS=(create-legacy create-v1 update fetch list track)
SERVICES=(orders-service tracking-service notification-service)
read -r -a CONNS <<<"$CONNECTIONS"
((${#CONNS[@]})) || lt_die "CONNECTIONS is empty"

[[ $(lt_seconds "$DURATION") =~ ^[1-9][0-9]*$ ]] || lt_die "DURATION=$DURATION: want whole seconds or minutes, e.g. 30s or 2m"

stamp=$(date -u +%Y%m%d-%H%M%S)
LT_RUN_DIR=$ROOT/.devenv/loadtest/$stamp
lt_keep_newest "$ROOT/.devenv/loadtest" 19 # make test adds one each time
mkdir -p "$LT_RUN_DIR/bin"
BIN=$LT_RUN_DIR/bin
PGBENCH_DB=loadtest_pgbench
APP_DB=loadtest
KEY_PREFIX="loadtest:$stamp:"
started_services=0 created_pgbench_db=0
# How busy the CPUs were over the second before the run goes into the
# report's title: a run beside a build or a test measures less.
busy_at_start=$(lt_cpu_busy)

cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  lt_stop_services
  if [ "$started_services" = 1 ]; then lt_stop_platform "$APP_DB" "$KEY_PREFIX"; fi
  if [ "$created_pgbench_db" = 1 ]; then lt_drop_db "$PGBENCH_DB"; fi
  rm -rf "$BIN" "$LT_RUN_DIR"/*.ids
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

lt_need_wrk
lt_log "run directory: $LT_RUN_DIR; building"
lt_build_tools "$BIN"

if [ -n "${URL:-}" ]; then
  ORDERS_URL=${URL%/}
  TRACKING_URL=${TRACKING_URL:-${ORDERS_URL%:*}:8082}
  NOTIFICATION_URL=${NOTIFICATION_URL:-}
  lt_wait_ready orders-service "$ORDERS_URL" 10 "is it running? (make run serves it on :8081)"
  lt_wait_ready tracking-service "$TRACKING_URL" 10 "is it running? (TRACKING_URL, if not on :8082 of URL's host)"
  eval "$(hack/devenv.sh env)"
  baselines=1
  { psql "$DATABASE_URL" -qXAtc 'select 1' && redis-cli -u "redis://$REDIS_ADDR" ping; } >/dev/null 2>&1 || baselines=0
  if ((baselines)); then
    lt_build_services "$BIN" orders-service # for its migrate command
  else
    lt_log "no local PostgreSQL and Redis: skipping pgbench and redis-benchmark"
  fi
else
  ORDERS_URL=http://127.0.0.1:$ORDERS_PORT
  TRACKING_URL=http://127.0.0.1:$TRACKING_PORT
  NOTIFICATION_URL=http://127.0.0.1:$NOTIFICATION_PORT
  for port in "$ORDERS_PORT" "$TRACKING_PORT" "$NOTIFICATION_PORT"; do
    lt_port_free "$port" || lt_die "port $port is taken (set ORDERS_PORT, TRACKING_PORT or NOTIFICATION_PORT)"
  done
  lt_build_services "$BIN" "${SERVICES[@]}"
  env_out=$(hack/devenv.sh up 2>"$LT_RUN_DIR/devenv.log") || { cat "$LT_RUN_DIR/devenv.log" >&2; lt_die "the infrastructure did not start"; }
  eval "$env_out"
  baselines=1
fi

if ((baselines)); then
  { command -v pgbench && command -v redis-benchmark; } >/dev/null || lt_die "pgbench and redis-benchmark are needed (make up installs them)"
  lt_log "infrastructure alone: pgbench (${CONNS[*]} clients, $DURATION each), redis-benchmark GET"
  created_pgbench_db=1
  lt_fresh_db "$PGBENCH_DB"
  pgbench_url=$(lt_db_url "$PGBENCH_DB")
  DATABASE_URL=$pgbench_url LOG_LEVEL=warn AUTH_MODE=off "$BIN/orders-service" migrate >"$LT_RUN_DIR/migrate.log" 2>&1 ||
    { cat "$LT_RUN_DIR/migrate.log" >&2; lt_die "cannot migrate $PGBENCH_DB"; }
  psql "$pgbench_url" -qX -v ON_ERROR_STOP=1 -v pool=10000 -f "$LT_DIR/pgbench/pool.sql" >/dev/null
  for c in "${CONNS[@]}"; do
    for tx in create update; do
      pgbench -n -M prepared -c "$c" -j $((c < 2 ? 1 : 2)) -T "$(lt_seconds "$DURATION")" -D pool=10000 \
        -f "$LT_DIR/pgbench/$tx.sql" "$pgbench_url" >"$LT_RUN_DIR/pgbench-$tx-$c.out" 2>&1 || true
    done
  done
  lt_drop_db "$PGBENCH_DB"
  redis-benchmark -h "${REDIS_ADDR%:*}" -p "${REDIS_ADDR#*:}" -t get -c 16 -n "$REDIS_REQUESTS" --csv \
    >"$LT_RUN_DIR/redis-get.csv" 2>"$LT_RUN_DIR/redis-get.err" || true
fi

if [ -z "${URL:-}" ]; then
  lt_log "starting the services on :$ORDERS_PORT :$TRACKING_PORT :$NOTIFICATION_PORT"
  started_services=1
  lt_start_platform "$BIN" "$APP_DB" "$ORDERS_PORT" "$TRACKING_PORT" "$NOTIFICATION_PORT" "$KEY_PREFIX"
fi

# metric_sum URL NAME adds up every series of metric NAME at URL/metrics
# (0 when it does not answer).
metric_sum() {
  { curl -fsS --max-time 2 "$1/metrics" 2>/dev/null || true; } |
    awk -v m="$2" '$1 == m || index($1, m "{") == 1 { s += $2 } END { printf "%.0f", s }'
}

# settle waits, up to SETTLE_TIMEOUT seconds, until the event pipeline is
# idle: the outbox empty and the consumers' record counts unchanged between
# two looks, so that one scenario's events are not handled during the next.
settle() {
  local deadline=$((SECONDS + SETTLE_TIMEOUT)) prev="" now backlog
  while :; do
    backlog=$(metric_sum "$ORDERS_URL" outbox_backlog_messages)
    now="$(metric_sum "$TRACKING_URL" kafka_consumer_records_consumed_total)"
    [ -n "$NOTIFICATION_URL" ] && now+=" $(metric_sum "$NOTIFICATION_URL" kafka_consumer_records_consumed_total)"
    [ "$backlog" = 0 ] && [ "$now" = "$prev" ] && return
    if ((SECONDS >= deadline)); then
      lt_log "warning: the event pipeline is still busy after ${SETTLE_TIMEOUT}s (outbox backlog $backlog); going on"
      return
    fi
    prev=$now
    sleep 0.3
  done
}

lt_log "seeding $SEED_ORDERS orders"
"$BIN/seed" -orders "$ORDERS_URL" -n "$SEED_ORDERS" -out "$LT_RUN_DIR/seed.ids" -list-customer "${LIST_QUERY#customerName=}" ||
  lt_die "seeding failed"

# pending holds the id files of orders still PENDING: the update scenario's
# pool, used up by it and refilled by the creates.
pending=$LT_RUN_DIR/seed.ids
for c in "${CONNS[@]}"; do
  for s in "${SCENARIOS[@]}"; do
    lt_check_alive
    settle
    lt_log "$s: $c connections, $DURATION"
    out=$LT_RUN_DIR/wrk-$s-$c.out
    case $s in
      create-*)
        lt_wrk "$s" "$c" "$DURATION" "$ORDERS_URL" "$out" "ids_out=$LT_RUN_DIR/$s-$c.ids" || true
        [ -s "$LT_RUN_DIR/$s-$c.ids" ] && pending+=",$LT_RUN_DIR/$s-$c.ids" ;;
      update)
        lt_wrk update "$c" "$DURATION" "$ORDERS_URL" "$out" "ids=${pending#,}" || true
        pending="" ;;
      fetch) lt_wrk fetch "$c" "$DURATION" "$ORDERS_URL" "$out" "ids=$LT_RUN_DIR/seed.ids" || true ;;
      list) lt_wrk list "$c" "$DURATION" "$ORDERS_URL" "$out" "path=/orders/fetchAllOrders?$LIST_QUERY" || true ;;
      track) lt_wrk track "$c" "$DURATION" "$TRACKING_URL" "$out" "ids=$LT_RUN_DIR/seed.ids" || true ;;
    esac
  done
done

# Fixed rate: creates and updates at half the rate wrk reached for them at
# the largest connection count, each request timed from when it was due.
c=${CONNS[-1]}
for s in create update; do
  wrk_scenario=$s
  [ "$s" = create ] && wrk_scenario=create-legacy
  rps=$(grep -o ' rps=[0-9.]*' "$LT_RUN_DIR/wrk-$wrk_scenario-$c.out" 2>/dev/null | head -n 1 | cut -d= -f2)
  rate=$(awk -v r="${rps:-0}" 'BEGIN { printf "%d", r / 2 }')
  if ((rate < 1)); then
    lt_log "open loop $s: no wrk rate to halve (wrk-$wrk_scenario-$c.out); skipped"
    continue
  fi
  ids=()
  if [ "$s" = update ]; then
    n=$("$BIN/openloop" -orders-for $((rate * $(lt_seconds "$DURATION"))))
    "$BIN/seed" -orders "$ORDERS_URL" -n "$n" -list-count 0 -out "$LT_RUN_DIR/openloop.ids" >/dev/null 2>&1 ||
      lt_die "cannot seed $n orders for the open-loop updates"
    ids=(-ids "$LT_RUN_DIR/openloop.ids")
  fi
  settle
  lt_log "open loop $s: $rate/s (half of wrk's $rps/s at $c connections) for $DURATION"
  "$BIN/openloop" -orders "$ORDERS_URL" -scenario "$s" -rate "$rate" -duration "$DURATION" "${ids[@]}" \
    >"$LT_RUN_DIR/openloop-$s.out" 2>&1 || true
done

if [ "$started_services" = 1 ]; then
  settle
  lt_log "burst: create-legacy at $c connections for $BURST_DURATION, then the drain"
  procs=""
  for i in "${!LT_PIDS[@]}"; do procs+="${LT_NAMES[$i]}=${LT_PIDS[$i]},"; done
  for infra in "postgres=${DATABASE_URL##*@}" "redis=$REDIS_ADDR" "kafka=${KAFKA_BROKERS%%,*}"; do
    port=${infra##*:} port=${port%%/*}
    pid=$(lt_listener_pid "$port")
    [ -n "$pid" ] || lt_die "cannot find the process listening on port $port (${infra%%=*}); is ss (iproute2) installed?"
    procs+="${infra%%=*}=$pid,"
  done
  lt_wrk_argv create-legacy "$c" "$BURST_DURATION" "$ORDERS_URL" - "ids_out=$LT_RUN_DIR/burst.ids"
  "$BIN/burst" -tracking "$TRACKING_URL" -notification "$NOTIFICATION_URL" \
    -ids "$LT_RUN_DIR/burst.ids" -procs "${procs%,}" -load-out "$LT_RUN_DIR/wrk-burst.out" -timeout "${SETTLE_TIMEOUT}s" \
    -- "${LT_WRK_ARGV[@]}" >"$LT_RUN_DIR/burst.out" 2>&1 || true
fi

settle
lt_log "freshness probe: $RATES changes/s, $FRESHNESS_DURATION each"
"$BIN/freshness" -orders "$ORDERS_URL" -tracking "$TRACKING_URL" -rates "$RATES" -duration "$FRESHNESS_DURATION" \
  -within "$WITHIN" >"$LT_RUN_DIR/freshness.out" || true
lt_check_alive

service_flags=()
if [ "$started_services" = 1 ]; then
  service_flags=(-rss)
  for i in "${!LT_PIDS[@]}"; do
    awk -v s="${LT_NAMES[$i]}" '/^VmHWM:/ { h = $2 } /^VmRSS:/ { r = $2 }
      END { printf "@loadtest rss service=%s hwm_kb=%d rss_kb=%d\n", s, h, r }' "/proc/${LT_PIDS[$i]}/status"
  done >"$LT_RUN_DIR/rss.out" 2>/dev/null || true
fi

if [ "$started_services" = 1 ]; then
  lt_log "start-up: each service stopped and started again alone"
  lt_stop_services
  for s in "${SERVICES[@]}"; do
    case $s in
      orders-service) url=$ORDERS_URL ;;
      tracking-service) url=$TRACKING_URL ;;
      notification-service) url=$NOTIFICATION_URL ;;
    esac
    lt_time_startup "$BIN" "$s" "$url" || true
  done >"$LT_RUN_DIR/startup.out" 2>&1
  service_flags+=(-burst -startup)
fi

baseline_flag=()
if ((baselines)); then baseline_flag=(-baselines); fi
title="make loadtest$([ "$SMOKE" = 1 ] && echo ' (smoke)'), $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores ($busy_at_start% busy before the run),"
title+=" ${VERSION:-$(git describe --tags --always --dirty 2>/dev/null || echo '?')}; DURATION=$DURATION CONNECTIONS=\"${CONNS[*]}\""
title+=" RATES=$RATES x $FRESHNESS_DURATION; target $ORDERS_URL $TRACKING_URL"
commas() { local IFS=,; echo "$*"; }
"$BIN/report" -dir "$LT_RUN_DIR" -openloop -scenarios "$(commas "${SCENARIOS[@]}")" -conns "$(commas "${CONNS[@]}")" -rates "$RATES" \
  "${baseline_flag[@]}" "${service_flags[@]}" -p99-max "$P99_MAX" -freshness-p99-max "$FRESHNESS_P99_MAX" \
  -title "$title" | tee "$LT_RUN_DIR/report.txt"
