#!/usr/bin/env bash
# browser-test.sh: make browser-test. The customer's tracking page in a real
# browser: Debian's Chromium, driven by playwright-core (npm), with the page
# checked by axe-core (npm) for accessibility. See hack/browser-test/test.mjs
# for what it asserts.
#
#   1. installs what is missing: chromium and fonts-liberation (apt-get), and
#      the pinned npm packages (hack/browser-test/package-lock.json, `npm ci`
#      into a cache keyed by the lock file's hash; Node >= 20 is needed);
#   2. builds orders-service and tracking-service, starts the local
#      infrastructure (hack/devenv.sh up; left running) and orders-service on
#      ORDERS_PORT over a scratch database; the test starts tracking-service
#      itself on TRACKING_PORT, since it restarts it;
#   3. runs the test, then stops what it started and drops the scratch data.
#
# Screenshots (desktop and phone widths) are written to
# .devenv/browser-test/<time>/screenshots/, printed at the end, for a human to
# look at; the last nine runs are kept.
#
# Settings: ORDERS_PORT=18381 TRACKING_PORT=18382 CHROMIUM=/usr/bin/chromium
#           BROWSER_TEST_CACHE=~/.cache/order-tracking
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
LT_TAG=browser-test
# shellcheck source-path=SCRIPTDIR source=loadtest/lib.sh
. hack/loadtest/lib.sh

ORDERS_PORT=${ORDERS_PORT:-18381}
TRACKING_PORT=${TRACKING_PORT:-18382}
CHROMIUM=${CHROMIUM:-/usr/bin/chromium}
DIR=hack/browser-test
LOCK_HASH=$(cat "$DIR/package.json" "$DIR/package-lock.json" | sha256sum | cut -c1-12)
MODULES=${BROWSER_TEST_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/order-tracking}/browser-test-$LOCK_HASH

stamp=$(date -u +%Y%m%d-%H%M%S)
LT_RUN_DIR=$ROOT/.devenv/browser-test/$stamp
lt_keep_newest "$ROOT/.devenv/browser-test" 9
mkdir -p "$LT_RUN_DIR/bin"
BIN=$LT_RUN_DIR/bin
APP_DB=browsertest
KEY_PREFIX="browsertest:$stamp:"
# A topic of the run's own: every run's scratch database numbers its orders
# from 1, and a consumer reading an earlier run's events would take them for
# this run's.
TOPIC="browsertest.$stamp"
started=0

cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  lt_stop_services
  if [ "$started" = 1 ]; then
    lt_drop_db "$APP_DB"
    lt_drop_keys "$KEY_PREFIX"
  fi
  rm -rf "$BIN"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

command -v node >/dev/null 2>&1 || lt_die "Node.js >= 20 is needed (https://nodejs.org, or apt-get install nodejs from a source that has 20)"
node_major=$(node -p 'process.versions.node.split(".")[0]')
((node_major >= 20)) || lt_die "Node.js >= 20 is needed, this is $(node --version)"
[ -x "$CHROMIUM" ] || lt_apt_install chromium fonts-liberation

# need_modules installs the pinned packages into MODULES unless a finished
# install is there; the marker is written last and a lock keeps two runs
# from installing at once.
need_modules() {
  [ -f "$MODULES/.installed" ] && return
  mkdir -p "$(dirname "$MODULES")"
  exec 9>"$MODULES.lock"
  flock 9
  [ -f "$MODULES/.installed" ] && return
  lt_log "installing playwright-core and axe-core into $MODULES (once per lock file)"
  rm -rf "$MODULES"
  mkdir -p "$MODULES"
  cp "$DIR/package.json" "$DIR/package-lock.json" "$MODULES/"
  # No browser download: playwright-core has none, and the test drives Debian's Chromium.
  (cd "$MODULES" && npm ci --no-audit --no-fund --ignore-scripts) >"$LT_RUN_DIR/npm.log" 2>&1 ||
    { cat "$LT_RUN_DIR/npm.log" >&2; lt_die "npm ci failed (log: $LT_RUN_DIR/npm.log)"; }
  touch "$MODULES/.installed"
}
need_modules

for port in "$ORDERS_PORT" "$TRACKING_PORT"; do
  lt_port_free "$port" || lt_die "port $port is taken (set ORDERS_PORT or TRACKING_PORT)"
done
lt_log "run directory: $LT_RUN_DIR; building the services"
lt_build_services "$BIN" orders-service tracking-service
env_out=$(hack/devenv.sh up 2>"$LT_RUN_DIR/devenv.log") || { cat "$LT_RUN_DIR/devenv.log" >&2; lt_die "the infrastructure did not start"; }
eval "$env_out"

started=1
lt_start_orders "$BIN" "$APP_DB" "$ORDERS_PORT" KAFKA_TOPIC="$TOPIC"
lt_log "orders-service ready on :$ORDERS_PORT; running the browser test"
# The test runs tracking-service itself, with these settings on top of LT_ENV.
env "${LT_ENV[@]}" KAFKA_TOPIC="$TOPIC" HTTP_PORT="$TRACKING_PORT" ORDERS_SERVICE_URL="http://127.0.0.1:$ORDERS_PORT" \
  KAFKA_GROUP_ID="$APP_DB-tracking-$stamp" REDIS_KEY_PREFIX="$KEY_PREFIX" TRACKING_TTL=1h \
  BROWSER_TEST_MODULES="$MODULES/node_modules" CHROMIUM="$CHROMIUM" RUN_DIR="$LT_RUN_DIR" \
  TRACKING_BIN="$BIN/tracking-service" ORDERS_URL="http://127.0.0.1:$ORDERS_PORT" TRACKING_URL="http://127.0.0.1:$TRACKING_PORT" \
  node "$DIR/test.mjs"
lt_check_alive
