#!/usr/bin/env bash
# prometheus-test.sh: make prometheus-test. The original system's prometheus.yml
# (hack/monitoring/original-prometheus.yml: metrics_path /actuator/prometheus on
# each service), its targets rewritten to the local ports and nothing else changed,
# loaded into the Prometheus that `PROMETHEUS=1 make run` starts: all three targets
# must be up within 60 s. It runs `make run`'s script (hack/run.sh) as a user would
# and stops it, and with it everything it started, at the end.
#
# Needs ports 8081-8083 and 9090 free (a `make run` elsewhere would hold them).
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
log() { printf '[prometheus-test %3ds] %s\n' "$SECONDS" "$*" >&2; }
die() { printf '[prometheus-test] error: %s\n' "$*" >&2; exit 1; }

RUN_DIR=$ROOT/.devenv/prometheus-test
mkdir -p "$RUN_DIR"
for port in 8081 8082 8083 9090; do
  if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then die "port $port is taken (a make run?): stop it first"; fi
done
# The targets as the original's compose network named them, rewritten to loopback.
sed -E 's/(orders|tracking|notification)-service:(808[123])/127.0.0.1:\2/' hack/monitoring/original-prometheus.yml >"$RUN_DIR/prometheus.yml"
grep -q "orders-service:" "$RUN_DIR/prometheus.yml" && die "a target was not rewritten: $RUN_DIR/prometheus.yml"
command -v promtool >/dev/null 2>&1 || hack/devenv.sh up >/dev/null
promtool check config "$RUN_DIR/prometheus.yml" >/dev/null

run_pid=""
stop() {
  local rc=$?
  trap - EXIT INT TERM
  if [ -n "$run_pid" ]; then
    # run.sh's own cleanup stops the services and Prometheus, as Ctrl-C does.
    kill -TERM "$run_pid" 2>/dev/null || true
    wait "$run_pid" 2>/dev/null || true
  fi
  exit "$rc"
}
trap stop EXIT
trap 'exit 130' INT TERM

log "starting PROMETHEUS=1 make run's script with $RUN_DIR/prometheus.yml (log: $RUN_DIR/run.log)"
PROMETHEUS=1 PROMETHEUS_CONFIG="$RUN_DIR/prometheus.yml" hack/run.sh orders-service tracking-service notification-service \
  >"$RUN_DIR/run.log" 2>&1 &
run_pid=$!

# targets prints "job health scrapeUrl" per active target, as Prometheus sees them.
targets() {
  local out
  out=$(curl -fsS --max-time 2 http://127.0.0.1:9090/api/v1/targets 2>/dev/null) || return 0
  python3 -c '
import json, sys
for t in json.load(sys.stdin)["data"]["activeTargets"]:
    print(t["labels"]["job"], t["health"], t["scrapeUrl"])' <<<"$out"
}
deadline=$((SECONDS + 120))
until [ "$(targets | grep -c ' up http://127.0.0.1:808[123]/actuator/prometheus$' || true)" = 3 ]; do
  kill -0 "$run_pid" 2>/dev/null || { tail -n 30 "$RUN_DIR/run.log" >&2; die "make run's script exited"; }
  if ((SECONDS >= deadline)); then
    targets >&2 || true
    tail -n 30 "$RUN_DIR/run.log" >&2
    die "the original scrape config's three targets were not all up within 120 s"
  fi
  sleep 1
done
targets | sed 's/^/  /' >&2
# A scrape that is up brought the service's metrics: the Go runtime's at least.
for job in orders-service tracking-service notification-service; do
  n=$(curl -fsS --max-time 2 --get http://127.0.0.1:9090/api/v1/query --data-urlencode "query=count(go_goroutines{job=\"$job\"})" |
    python3 -c 'import json, sys; r = json.load(sys.stdin)["data"]["result"]; print(r[0]["value"][1] if r else 0)')
  [ "${n:-0}" != 0 ] || die "Prometheus holds no metrics of $job"
done
log "the original prometheus.yml scrapes all three services at /actuator/prometheus: up"
