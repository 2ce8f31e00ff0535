#!/usr/bin/env bash
# run.sh SERVICE...: the `make run` loop. Starts the local infrastructure,
# builds and runs each service in the foreground with readable logs, and on
# Ctrl-C stops the services and the infrastructure it started (servers that
# were already running are left alone).
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"

was_up=1
hack/devenv.sh status >/dev/null 2>&1 || was_up=0
eval "$(hack/devenv.sh up)"
export LOG_FORMAT=${LOG_FORMAT:-text}

mkdir -p bin
pids=()
cleanup() {
  trap - INT TERM EXIT
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  wait || true
  if [ "$was_up" = 0 ]; then hack/devenv.sh down; fi
}
trap cleanup INT TERM EXIT

for svc in "$@"; do
  go build -o "bin/$svc" "./services/$svc"
  # Prefix every line with the service name so interleaved logs stay readable.
  "bin/$svc" > >(sed -u "s/^/[$svc] /") 2>&1 &
  pids+=($!)
done
echo "running: $* (Ctrl-C to stop)"
wait
