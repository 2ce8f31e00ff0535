# shellcheck shell=bash
# lib.sh: what hack/loadtest.sh, hack/profile.sh and hack/apifuzz.sh share: wrk and the
# harness's programs, scratch databases, and services started in the
# background and stopped again. Sourced from the repository root; every name
# starts with lt_. The caller sets LT_RUN_DIR (logs and results) first.

LT_DIR=hack/loadtest
LT_PIDS=()  # services this script started, stopped by lt_stop_services
LT_NAMES=()
declare -A LT_START_ARGS=() # each service's settings, by name, for lt_time_startup

# The services the harness starts publish and consume a topic of their own,
# so that a `make run` beside them neither receives nor steals their events.
LT_TOPIC=loadtest.order-events

# LT_TAG names the script in what it prints (hack/apifuzz.sh sets its own).
LT_TAG=${LT_TAG:-loadtest}
lt_log() { printf '[%s %3ds] %s\n' "$LT_TAG" "$SECONDS" "$*" >&2; }
lt_die() { printf '[%s] error: %s\n' "$LT_TAG" "$*" >&2; exit 1; }

# lt_need_wrk installs Debian's wrk when it is missing, as hack/devenv.sh
# installs the servers: with apt-get, as root.
lt_need_wrk() {
  command -v wrk >/dev/null 2>&1 && return
  command -v apt-get >/dev/null 2>&1 || lt_die "wrk is missing and there is no apt-get to install it with"
  [ "$(id -u)" = 0 ] || lt_die "wrk is missing: sudo apt-get install -y wrk"
  lt_log "installing wrk from Debian's packages"
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -qq wrk >/dev/null 2>&1 || { apt-get update -qq >/dev/null && apt-get install -y -qq wrk >/dev/null; } ||
    lt_die "cannot install wrk"
}

# lt_build_tools DIR builds the harness's Go programs (seed, freshness,
# report) into DIR; their module is outside go.work.
lt_build_tools() {
  (cd "$LT_DIR" && GOWORK=off go build -o "$1/" ./seed ./freshness ./report ./burst ./startup ./openloop) || lt_die "cannot build $LT_DIR"
}

# lt_build_services DIR SERVICE... builds the services as make build does.
lt_build_services() {
  local dir=$1; shift
  OUT_DIR=$dir hack/build.sh "$@" >"$LT_RUN_DIR/build.log" 2>&1 || { cat "$LT_RUN_DIR/build.log" >&2; lt_die "cannot build $*"; }
}

# lt_db_url NAME is DATABASE_URL (hack/devenv.sh env) pointing at database NAME.
lt_db_url() { echo "${DATABASE_URL%/*}/$1?${DATABASE_URL#*\?}"; }

# lt_fresh_db NAME drops database NAME if it exists and creates it empty.
lt_fresh_db() {
  PGOPTIONS='-c client_min_messages=warning' psql "$DATABASE_URL" -qX -v ON_ERROR_STOP=1 -c "DROP DATABASE IF EXISTS $1 WITH (FORCE)" -c "CREATE DATABASE $1" \
    >/dev/null || lt_die "cannot create database $1"
}

lt_drop_db() { psql "$DATABASE_URL" -qX -c "DROP DATABASE IF EXISTS $1 WITH (FORCE)" >/dev/null 2>&1 || true; }

# lt_drop_keys PREFIX deletes every Redis key (at REDIS_ADDR) starting with
# PREFIX: what a tracking-service started with REDIS_KEY_PREFIX=PREFIX left.
lt_drop_keys() {
  redis-cli -h "${REDIS_ADDR%:*}" -p "${REDIS_ADDR#*:}" --scan --pattern "$1*" 2>/dev/null |
    xargs -r -n 1000 redis-cli -h "${REDIS_ADDR%:*}" -p "${REDIS_ADDR#*:}" UNLINK >/dev/null 2>&1 || true
}

# lt_seconds DURATION: pgbench and pprof want whole seconds (30s, 2m or 45).
lt_seconds() {
  case $1 in
    *m) echo $((${1%m} * 60)) ;;
    *s) echo "${1%s}" ;;
    *) echo "$1" ;;
  esac
}

# lt_cpu_busy prints how busy the CPUs were over the next second, in %
# (from /proc/stat: everything but idle and iowait).
lt_cpu_busy() {
  local a b
  a=$(awk '/^cpu / { print $2 + $3 + $4 + $5 + $6 + $7 + $8 + $9, $5 + $6 }' /proc/stat 2>/dev/null) || { echo '?'; return; }
  sleep 1
  b=$(awk '/^cpu / { print $2 + $3 + $4 + $5 + $6 + $7 + $8 + $9, $5 + $6 }' /proc/stat)
  awk -v a="$a" -v b="$b" 'BEGIN { split(a, x, " "); split(b, y, " "); t = y[1] - x[1]
    printf "%.0f", (t > 0 ? 100 * (t - (y[2] - x[2])) / t : 0) }'
}

# lt_apt_install PACKAGE... installs Debian packages (as root, without their
# recommends), refreshing the package lists once if the first try fails.
lt_apt_install() {
  command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ] || lt_die "missing $*: sudo apt-get install -y --no-install-recommends $*"
  lt_log "installing $* from Debian's packages"
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -qq --no-install-recommends "$@" >/dev/null 2>&1 ||
    { apt-get update -qq >/dev/null && apt-get install -y -qq --no-install-recommends "$@" >/dev/null; } ||
    lt_die "cannot install $*"
}

# lt_keep_newest DIR N removes all but the newest N run directories under
# DIR (their names are times, so they sort by age).
# A DIR that does not exist yet (a fresh clone) has nothing to remove.
lt_keep_newest() {
  [ -d "$1" ] || return 0
  find "$1" -mindepth 1 -maxdepth 1 -type d -print | sort | head -n "-$2" | xargs -r rm -rf
}

lt_port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# lt_start NAME BIN_DIR [VAR=value...] starts service NAME in the background
# with the settings given (on top of the environment), logging to
# LT_RUN_DIR/NAME.log.
lt_start() {
  local name=$1 bin=$2; shift 2
  env "$@" "$bin/$name" >"$LT_RUN_DIR/$name.log" 2>&1 &
  LT_PIDS+=($!)
  LT_NAMES+=("$name")
  LT_START_ARGS[$name]=$(printf '%q ' "$@")
}

# lt_time_startup BIN_DIR NAME URL starts service NAME again, with the
# settings lt_start gave it (it must be stopped), and prints the startup
# tool's record: ms from exec to URL/readyz answering 200. The service is
# stopped again afterwards.
lt_time_startup() {
  local bin=$1 name=$2 url=$3 args=()
  eval "args=(${LT_START_ARGS[$name]})"
  "$bin/startup" -name "$name" -url "$url/readyz" -log "$LT_RUN_DIR/$name-restart.log" -- env "${args[@]}" "$bin/$name"
}

# lt_listener_pid PORT prints the pid of the process listening on
# 127.0.0.1:PORT (PostgreSQL's postmaster, redis-server, Kafka's JVM),
# whoever started it.
lt_listener_pid() {
  ss -ltnpH "sport = :$1" 2>/dev/null | grep -o 'pid=[0-9]*' | head -n 1 | cut -d= -f2
}

# lt_start_orders BIN_DIR DB PORT [VAR=value...] starts orders-service on
# PORT over a new empty database DB (migrated at start) and waits until it is
# ready; LT_ENV is then the settings every service of the run shares.
lt_start_orders() {
  local bin=$1 db=$2 port=$3; shift 3
  lt_fresh_db "$db"
  # Auth, rate limits and stream caps off: the harness is one client
  # measuring the services, not their abuse limits.
  LT_ENV=(LOG_LEVEL=warn LOG_FORMAT=text "DATABASE_URL=$(lt_db_url "$db")" "KAFKA_TOPIC=$LT_TOPIC"
    AUTH_MODE=off RATE_LIMIT_PER_SECOND=0 SSE_MAX_STREAMS=0 SSE_MAX_STREAMS_PER_CLIENT=0)
  lt_start orders-service "$bin" "${LT_ENV[@]}" "HTTP_PORT=$port" "$@"
  lt_wait_ready orders-service "http://127.0.0.1:$port" 60
}

# lt_start_platform BIN_DIR NAME ORDERS_PORT TRACKING_PORT NOTIFICATION_PORT
# KEY_PREFIX starts the three services on those ports as the harness runs
# them: orders-service first, over a new empty database NAME (it creates the
# topic the consumers subscribe to), then tracking-service, reading from that
# orders-service and keeping its Redis keys under KEY_PREFIX, and
# notification-service, in consumer groups NAME-tracking and
# NAME-notification; it waits until all three are ready.
lt_start_platform() {
  local bin=$1 name=$2 orders=$3 tracking=$4 notification=$5 prefix=$6
  lt_start_orders "$bin" "$name" "$orders"
  lt_start tracking-service "$bin" "${LT_ENV[@]}" "HTTP_PORT=$tracking" "ORDERS_SERVICE_URL=http://127.0.0.1:$orders" \
    "KAFKA_GROUP_ID=$name-tracking" "REDIS_KEY_PREFIX=$prefix" TRACKING_TTL=1h
  lt_start notification-service "$bin" "${LT_ENV[@]}" "HTTP_PORT=$notification" "KAFKA_GROUP_ID=$name-notification"
  lt_wait_ready tracking-service "http://127.0.0.1:$tracking" 60
  lt_wait_ready notification-service "http://127.0.0.1:$notification" 60
}

# lt_stop_platform NAME KEY_PREFIX stops what lt_start_platform started and
# removes what it left: the database NAME and the Redis keys under KEY_PREFIX.
lt_stop_platform() {
  lt_stop_services
  lt_drop_db "$1"
  lt_drop_keys "$2"
}

# lt_wait_ready NAME URL SECONDS [HINT] waits for URL/readyz to answer 200;
# it fails at once, with the log's tail, if the service exited, and after
# SECONDS with HINT.
lt_wait_ready() {
  local name=$1 url=$2 deadline=$((SECONDS + $3)) hint=${4:-} i pid=""
  for i in "${!LT_NAMES[@]}"; do [ "${LT_NAMES[$i]}" = "$name" ] && pid=${LT_PIDS[$i]}; done
  until curl -fsS --max-time 2 -o /dev/null "$url/readyz" 2>/dev/null; do
    if [ -n "$pid" ] && ! kill -0 "$pid" 2>/dev/null; then
      tail -n 20 "$LT_RUN_DIR/$name.log" >&2
      lt_die "$name exited during start (log: $LT_RUN_DIR/$name.log)"
    fi
    if ((SECONDS >= deadline)); then
      [ -n "$pid" ] && tail -n 20 "$LT_RUN_DIR/$name.log" >&2
      lt_die "$name at $url did not answer GET /readyz within $3s${hint:+: $hint}"
    fi
    sleep 0.2
  done
}

# lt_check_alive fails, with the log's tail, if a service lt_start started
# has exited.
lt_check_alive() {
  local i
  for i in "${!LT_PIDS[@]}"; do
    kill -0 "${LT_PIDS[$i]}" 2>/dev/null && continue
    tail -n 20 "$LT_RUN_DIR/${LT_NAMES[$i]}.log" >&2
    lt_die "${LT_NAMES[$i]} has exited (log: $LT_RUN_DIR/${LT_NAMES[$i]}.log)"
  done
}

# lt_stop_services stops what lt_start started: TERM, then KILL after 15s.
lt_stop_services() {
  local pid deadline=$((SECONDS + 15))
  for pid in "${LT_PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${LT_PIDS[@]}"; do
    while kill -0 "$pid" 2>/dev/null && ((SECONDS < deadline)); do sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  LT_PIDS=() LT_NAMES=()
}

# lt_wrk SCENARIO CONNS DURATION URL OUT [key=value...] runs the scenario's
# script (LT_DIR/wrk/SCENARIO.lua) with wrk, its output into OUT; the
# key=value pairs go to the script.
lt_wrk() {
  local out=$5
  lt_wrk_argv "$@"
  "${LT_WRK_ARGV[@]}" >"$out" 2>&1
}

# lt_wrk_argv takes lt_wrk's arguments (OUT is not used) and sets
# LT_WRK_ARGV to the command lt_wrk runs.
lt_wrk_argv() {
  local scenario=$1 conns=$2 duration=$3 url=$4; shift 5
  local threads=$((conns < 2 ? 1 : 2)) # two cores: more threads only compete with the services
  LT_WRK_ARGV=(env "LUA_PATH=$LT_DIR/wrk/?.lua;;" wrk -t "$threads" -c "$conns" -d "$duration" --timeout "${WRK_TIMEOUT:-5s}"
    -s "$LT_DIR/wrk/$scenario.lua" "$url" -- scenario="$scenario" conns="$conns" threads="$threads" "$@")
}
