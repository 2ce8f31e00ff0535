#!/usr/bin/env bash
# apifuzz.sh: make api-fuzz. Fuzzes each service's HTTP API against the
# OpenAPI document it serves, with schemathesis: requests generated from the
# document, valid and invalid, and every check (`--checks all`): no 5xx, no
# answer that breaks the document (status code, content type, headers,
# body), valid requests accepted, invalid ones refused, methods the
# document does not list refused with 405, created resources readable.
#
#   1. schemathesis (hack/apifuzz/requirements.txt: pinned, with everything
#      it pulls in) in a virtualenv under ~/.cache/order-tracking/, keyed by
#      that file's hash and the Python version, so a warm machine reuses it;
#      built on first use (10-30s, from PyPI);
#   2. the local infrastructure (hack/devenv.sh up; left running) and the
#      three services, built with hack/build.sh and run in the background on
#      ports of their own (18181-18183) with AUTH_MODE=off and no rate limit,
#      against a scratch database, a topic, consumer groups and Redis keys of
#      their own (the load harness's functions, hack/loadtest/lib.sh), so that
#      a `make run` or a test beside it is neither disturbed nor counted;
#   3. `st run` against each service's /openapi.json, orders-service first
#      (the orders it creates are what tracking-service then serves), with at
#      most EXAMPLES generated cases per operation and phase;
#   4. stops what it started, drops the scratch data, and exits non-zero if
#      any service failed a check (each is fuzzed even when one before failed).
#
# hack/apifuzz/schemathesis.toml holds the settings: which statuses a valid
# request may correctly get beyond schemathesis's defaults, per operation,
# and why; how much of an event stream to read. The services' logs and
# schemathesis's JUnit reports stay in .devenv/apifuzz/<time>/. On 2 cores
# a run takes about 35s warm, 45s with a fresh virtualenv, 70s with both
# cores busy elsewhere.
#
# Settings (environment or make variables):
#   EXAMPLES=100     cases per operation and phase (schemathesis --max-examples)
#   SEED=            schemathesis --seed, to replay a run (each run prints its seed)
#   ORDERS_PORT=18181 TRACKING_PORT=18182 NOTIFICATION_PORT=18183
#   APIFUZZ_CACHE=~/.cache/order-tracking   where the virtualenv lives
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
LT_TAG=api-fuzz
# shellcheck source-path=SCRIPTDIR source=loadtest/lib.sh
. hack/loadtest/lib.sh
LT_TOPIC=apifuzz.order-events

EXAMPLES=${EXAMPLES:-100}
ORDERS_PORT=${ORDERS_PORT:-18181}
TRACKING_PORT=${TRACKING_PORT:-18182}
NOTIFICATION_PORT=${NOTIFICATION_PORT:-18183}
REQUIREMENTS=$ROOT/hack/apifuzz/requirements.txt
CONFIG=$ROOT/hack/apifuzz/schemathesis.toml
# A run that hangs (a stream never cut, a service that stopped answering) is
# a failure, not a CI job that waits for its own timeout.
ST_TIMEOUT=300

[[ $EXAMPLES =~ ^[1-9][0-9]*$ ]] || lt_die "EXAMPLES=$EXAMPLES: want a positive whole number"
version=$(sed -n 's/^schemathesis==//p' "$REQUIREMENTS")
[ -n "$version" ] || lt_die "$REQUIREMENTS pins no schemathesis version"
# Keyed by the pins and by the Python that runs them: a virtualenv holds
# absolute paths to its interpreter and compiled packages for its version.
python=$(python3 -c 'import sys; print("py%d.%d" % sys.version_info[:2])') || lt_die "python3 is needed (apt-get install python3)"
VENV=${APIFUZZ_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/order-tracking}/schemathesis-$version-$python-$(sha256sum "$REQUIREMENTS" | cut -c1-12)

stamp=$(date -u +%Y%m%d-%H%M%S)
LT_RUN_DIR=$ROOT/.devenv/apifuzz/$stamp
lt_keep_newest "$ROOT/.devenv/apifuzz" 9
mkdir -p "$LT_RUN_DIR/bin"
BIN=$LT_RUN_DIR/bin
APP_DB=apifuzz
KEY_PREFIX="apifuzz:$stamp:"
started_services=0

cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  lt_stop_services
  if [ "$started_services" = 1 ]; then lt_stop_platform "$APP_DB" "$KEY_PREFIX"; fi
  rm -rf "$BIN"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# need_venv makes VENV a virtualenv with REQUIREMENTS installed, unless it is
# one already whose schemathesis runs. The marker is written last, so a run cut off while
# installing leaves a virtualenv the next run rebuilds rather than trusts; a
# lock keeps two runs from building it at once.
need_venv() {
  [ -f "$VENV/.installed" ] && "$VENV/bin/st" --version >/dev/null 2>&1 && return
  mkdir -p "$(dirname "$VENV")"
  exec 9>"$VENV.lock"
  flock 9
  if ! { [ -f "$VENV/.installed" ] && "$VENV/bin/st" --version >/dev/null 2>&1; }; then
    lt_log "installing schemathesis $version into $VENV (once per pinned version)"
    python3 -c 'import ensurepip, venv' 2>/dev/null || need_python_venv
    rm -rf "$VENV"
    if ! { python3 -m venv "$VENV" &&
      "$VENV/bin/pip" install --disable-pip-version-check --no-input -q -r "$REQUIREMENTS"; } >"$LT_RUN_DIR/venv.log" 2>&1; then
      cat "$LT_RUN_DIR/venv.log" >&2
      lt_die "cannot install schemathesis $version (log: $LT_RUN_DIR/venv.log)"
    fi
    touch "$VENV/.installed"
  fi
  exec 9>&-
}

# need_python_venv installs Debian's python3-venv, without which python3
# cannot make a virtualenv, as lt_need_wrk installs wrk.
need_python_venv() {
  lt_apt_install python3-venv
}

# check_config NAME URL fails unless every operation id that CONFIG's
# project NAME names is an operation of the document served at URL:
# schemathesis applies an [[project.operations]] block that matches nothing
# to nothing, without a word, so a renamed operation would lose its
# settings silently.
check_config() {
  "$VENV/bin/python" - "$CONFIG" "$1" "$2/openapi.json" <<'PY' || lt_die "$CONFIG does not match $1's document"
import json, sys, tomllib, urllib.request
config, name, url = sys.argv[1:]
ids = {op.get("operationId") for item in json.load(urllib.request.urlopen(url, timeout=10))["paths"].values()
       for op in item.values() if isinstance(op, dict)}
with open(config, "rb") as f:
    projects = [p for p in tomllib.load(f).get("project", []) if p.get("title") == name]
if len(projects) != 1:
    sys.exit(f"{config}: want one [[project]] titled {name}, got {len(projects)}")
unknown = [i for block in projects[0].get("operations", []) for i in block.get("include-operation-id", []) if i not in ids]
if unknown:
    sys.exit(f"{config}: {name} has no operation {', '.join(unknown)}")
PY
}

# fuzz NAME URL runs schemathesis against the service NAME at URL, in the
# run directory (where it keeps what it writes), its reports beside the
# service's log; it returns schemathesis's exit status.
fuzz() {
  local name=$1 url=$2 seed=() rc=0
  [ -n "${SEED:-}" ] && seed=(--seed "$SEED")
  check_config "$name" "$url"
  lt_log "$name: st run $url/openapi.json --checks all --max-examples $EXAMPLES"
  (cd "$LT_RUN_DIR" && timeout "$ST_TIMEOUT" "$VENV/bin/st" --config-file "$CONFIG" run "$url/openapi.json" \
    --checks all --max-examples "$EXAMPLES" "${seed[@]}" --generation-database none --no-color \
    --report junit --report-dir "$LT_RUN_DIR/$name") || rc=$?
  ((rc == 124)) && lt_log "$name: schemathesis did not finish within ${ST_TIMEOUT}s"
  return "$rc"
}

for port in "$ORDERS_PORT" "$TRACKING_PORT" "$NOTIFICATION_PORT"; do
  lt_port_free "$port" || lt_die "port $port is taken (set ORDERS_PORT, TRACKING_PORT or NOTIFICATION_PORT)"
done
need_venv
lt_log "run directory: $LT_RUN_DIR; building the services"
lt_build_services "$BIN" orders-service tracking-service notification-service
env_out=$(hack/devenv.sh up 2>"$LT_RUN_DIR/devenv.log") || { cat "$LT_RUN_DIR/devenv.log" >&2; lt_die "the infrastructure did not start"; }
eval "$env_out"

ORDERS_URL=http://127.0.0.1:$ORDERS_PORT
TRACKING_URL=http://127.0.0.1:$TRACKING_PORT
NOTIFICATION_URL=http://127.0.0.1:$NOTIFICATION_PORT
lt_log "starting the services on :$ORDERS_PORT :$TRACKING_PORT :$NOTIFICATION_PORT"
started_services=1
lt_start_platform "$BIN" "$APP_DB" "$ORDERS_PORT" "$TRACKING_PORT" "$NOTIFICATION_PORT" "$KEY_PREFIX"

failed=()
fuzz orders-service "$ORDERS_URL" || failed+=(orders-service)
fuzz tracking-service "$TRACKING_URL" || failed+=(tracking-service)
fuzz notification-service "$NOTIFICATION_URL" || failed+=(notification-service)
# A service that crashed under the fuzz is a failure whatever schemathesis
# made of the connection errors.
lt_check_alive

if ((${#failed[@]})); then
  lt_die "the API of ${failed[*]} disagrees with its OpenAPI document (see above; reports and logs in $LT_RUN_DIR)"
fi
lt_log "every service's API agrees with its OpenAPI document"
