#!/usr/bin/env bash
# run.sh SERVICE...: the `make run` loop. Builds the services into bin/ with
# hack/build.sh (as `make build` and the images do), starts the local
# infrastructure, runs each service in the foreground with readable logs, and
# on Ctrl-C stops the services and the infrastructure it started (servers that
# were already running are left alone).
#
# Auth is off (AUTH_MODE=off), so the original README's calls work without
# a token; each service logs a warning saying so. To run with auth on, set
# AUTH_MODE=jwt, OIDC_ISSUER_URL (and OIDC_AUDIENCE), plus OIDC_CLIENT_ID and
# OIDC_CLIENT_SECRET for tracking-service (see the README's "Access control").
#
# PROMETHEUS=1 also starts Debian's Prometheus (installed by
# hack/devenv.sh up) on 127.0.0.1:9090, scraping the services every 5s with
# the chart's alert rules loaded (hack/monitoring/prometheus.yml), its data
# under .devenv/prometheus; Ctrl-C stops it with the services.
# PROMETHEUS_CONFIG names another configuration to load instead (make
# prometheus-test loads the original system's).
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"

# Built before anything starts, so a compile error leaves nothing running.
OUT_DIR=bin hack/build.sh "$@"

was_up=1
hack/devenv.sh status >/dev/null 2>&1 || was_up=0
eval "$(hack/devenv.sh up)"
export LOG_FORMAT=${LOG_FORMAT:-text}
export AUTH_MODE=${AUTH_MODE:-off}

pids=()
cleanup() {
  trap - INT TERM EXIT
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  wait || true
  if [ "$was_up" = 0 ]; then hack/devenv.sh down; fi
}
trap cleanup INT TERM EXIT

if [ "${PROMETHEUS:-0}" = 1 ]; then
  command -v prometheus >/dev/null || { echo "run.sh: prometheus not found (apt-get install prometheus)" >&2; exit 1; }
  if (exec 3<>/dev/tcp/127.0.0.1/9090) 2>/dev/null; then
    echo "run.sh: 127.0.0.1:9090 is taken; stop what listens there or run without PROMETHEUS=1" >&2
    exit 1
  fi
  mkdir -p .devenv/prometheus
  prometheus --config.file="${PROMETHEUS_CONFIG:-hack/monitoring/prometheus.yml}" --storage.tsdb.path=.devenv/prometheus \
    --storage.tsdb.retention.time=2d --web.listen-address=127.0.0.1:9090 --log.level=warn \
    > >(sed -u "s/^/[prometheus] /") 2>&1 &
  pids+=($!)
  echo "prometheus: http://127.0.0.1:9090 (alerts: http://127.0.0.1:9090/alerts)"
fi

for svc in "$@"; do
  # Prefix every line with the service name so interleaved logs stay readable.
  "bin/$svc" > >(sed -u "s/^/[$svc] /") 2>&1 &
  pids+=($!)
done
echo "running: $* (Ctrl-C to stop)"
wait
