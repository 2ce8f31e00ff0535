#!/usr/bin/env bash
# profile.sh: make profile. CPU, mutex and block profiles of orders-service
# under the create load, and the CPU profile's top functions.
#
# Starts the local infrastructure (hack/devenv.sh up; left running) and
# orders-service alone, built with hack/build.sh, on ORDERS_PORT over a
# scratch database, with PPROF_ADDR set: the service then serves
# net/http/pprof on that loopback address and turns the mutex and block
# profiles on. wrk puts the create-legacy scenario of make loadtest
# (hack/loadtest/wrk/create-legacy.lua) on it for DURATION with CONNECTIONS
# connections; from 2s in until 2s before the end, the CPU profile and the
# mutex and block profiles of that window are recorded into
# .devenv/profiles/<time>/ (cpu.pprof, mutex.pprof, block.pprof, wrk.out).
#
#   DURATION=30s CONNECTIONS=16 PPROF_ADDR=127.0.0.1:6060 ORDERS_PORT=18081
#
# Read them further with `go tool pprof -http=: .devenv/profiles/<time>/cpu.pprof`.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
# shellcheck source-path=SCRIPTDIR source=loadtest/lib.sh
. hack/loadtest/lib.sh

DURATION=${DURATION:-30s}
CONNECTIONS=${CONNECTIONS:-16}
PPROF_ADDR=${PPROF_ADDR:-127.0.0.1:6060}
ORDERS_PORT=${ORDERS_PORT:-18081}
read -r conns _ <<<"$CONNECTIONS" # one count: the first, if several are given
window=$(($(lt_seconds "$DURATION") - 4))
((window >= 1)) || lt_die "DURATION=$DURATION: want at least 5s"
LT_RUN_DIR=$ROOT/.devenv/profiles/$(date -u +%Y%m%d-%H%M%S)
lt_keep_newest "$ROOT/.devenv/profiles" 19
BIN=$LT_RUN_DIR/bin
DB=loadtest_profile
mkdir -p "$BIN"

cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  lt_stop_services
  [ -n "${DATABASE_URL:-}" ] && lt_drop_db "$DB"
  rm -rf "$BIN"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

lt_need_wrk
lt_port_free "$ORDERS_PORT" || lt_die "port $ORDERS_PORT is taken (set ORDERS_PORT)"
lt_port_free "${PPROF_ADDR##*:}" || lt_die "$PPROF_ADDR is taken (set PPROF_ADDR)"
lt_build_services "$BIN" orders-service
env_out=$(hack/devenv.sh up 2>"$LT_RUN_DIR/devenv.log") || { cat "$LT_RUN_DIR/devenv.log" >&2; lt_die "the infrastructure did not start"; }
eval "$env_out"
lt_start_orders "$BIN" "$DB" "$ORDERS_PORT" "PPROF_ADDR=$PPROF_ADDR"
pprof=http://$PPROF_ADDR/debug/pprof
curl -fsS --max-time 5 -o /dev/null "$pprof/" ||
  lt_die "orders-service does not serve $pprof/ (a build without the PPROF_ADDR setting?)"

lt_log "create load: $conns connections for $DURATION; profiling ${window}s from 2s in; into $LT_RUN_DIR"
lt_wrk create-legacy "$conns" "$DURATION" "http://127.0.0.1:$ORDERS_PORT" "$LT_RUN_DIR/wrk.out" &
load=$!
sleep 2
pids=()
for p in profile mutex block; do
  file=$LT_RUN_DIR/$p.pprof
  [ "$p" = profile ] && file=$LT_RUN_DIR/cpu.pprof
  # With seconds=, mutex and block answer what happened in that window only.
  curl -fsS --max-time $((window + 30)) -o "$file" "$pprof/$p?seconds=$window" &
  pids+=($!)
done
failed=0
for pid in "${pids[@]}"; do wait "$pid" || failed=1; done
wait "$load" || lt_log "warning: wrk failed (see $LT_RUN_DIR/wrk.out)"
((failed == 0)) || lt_die "a profile could not be fetched from $pprof"

grep -E '^Requests/sec|@loadtest' "$LT_RUN_DIR/wrk.out" >&2 || true
go tool pprof -top -nodecount=30 "$LT_RUN_DIR/cpu.pprof" 2>/dev/null
echo
echo "profiles: $LT_RUN_DIR/{cpu,mutex,block}.pprof"
echo "explore:  go tool pprof -http=: $LT_RUN_DIR/cpu.pprof"
