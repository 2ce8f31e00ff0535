#!/usr/bin/env bash
# devenv.sh: the project's local infrastructure, as plain processes on loopback.
#
#   hack/devenv.sh up       install what is missing, start PostgreSQL, Redis and Kafka, wait until ready
#   hack/devenv.sh down     stop what `up` started (by PID)
#   hack/devenv.sh status   say what answers
#   hack/devenv.sh env      print the connection settings as `export` lines
#   hack/devenv.sh stop-kafka | start-kafka   (used by tests that take the broker away)
#   hack/devenv.sh pids postgres|redis|kafka   the server's process ids, one a line (the fault suite
#                                              signals them); PostgreSQL's postmaster comes first
#   hack/devenv.sh crash-restart-postgres      an immediate (crash) shutdown, then a start with recovery
#
# Idempotent: a server that already answers on its port is reused, whoever started it.
# Ports move with PGPORT, REDIS_PORT, KAFKA_PORT and KAFKA_SASL_PORT; state lives in DEVENV_DIR
# (default .devenv/, ignored by git). Kafka's jars are fetched once with Maven into KAFKA_CACHE.
#
# Kafka has two client listeners: PLAINTEXT on KAFKA_PORT, whose anonymous clients are super
# users (every test and `make run` use it, as before), and SASL_SSL on KAFKA_SASL_PORT, where
# the services' SCRAM-SHA-512 users (orders-service, tracking-service, notification-service,
# password KAFKA_SASL_DEVENV_PASSWORD) get only what their ACLs allow, as on a Strimzi
# cluster. Its CA and certificate are made with openssl into DEVENV_DIR/kafka/tls once.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
DEVENV_DIR=${DEVENV_DIR:-$ROOT/.devenv}
PGPORT=${PGPORT:-5432}
REDIS_PORT=${REDIS_PORT:-6379}
KAFKA_PORT=${KAFKA_PORT:-9092}
KAFKA_CONTROLLER_PORT=${KAFKA_CONTROLLER_PORT:-$((KAFKA_PORT + 1))}
KAFKA_SASL_PORT=${KAFKA_SASL_PORT:-$((KAFKA_PORT + 2))}
# The local service users' password: loopback only, so a known one is no secret worth keeping.
KAFKA_SASL_DEVENV_PASSWORD=${KAFKA_SASL_DEVENV_PASSWORD:-devenv-only-secret}
KAFKA_VERSION=4.3.1
KAFKA_CACHE=${KAFKA_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/order-tracking/kafka-$KAFKA_VERSION}
PG_DB=orders
PG_USER=orders

log() { printf '[devenv] %s\n' "$*" >&2; }
die() { printf '[devenv] error: %s\n' "$*" >&2; exit 1; }

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# wait_for DESCRIPTION SECONDS COMMAND...: polls COMMAND until it succeeds or the deadline passes.
wait_for() {
  local what=$1 secs=$2; shift 2
  local deadline=$((SECONDS + secs))
  until "$@" >/dev/null 2>&1; do
    if ((SECONDS >= deadline)); then log "$what did not become ready within ${secs}s"; return 1; fi
    sleep 0.2
  done
}

database_url() { echo "postgres://$PG_USER@127.0.0.1:$PGPORT/$PG_DB?sslmode=disable"; }

print_env() {
  cat <<EOF
export DATABASE_URL='$(database_url)'
export REDIS_ADDR='127.0.0.1:$REDIS_PORT'
export KAFKA_BROKERS='127.0.0.1:$KAFKA_PORT'
export KAFKA_SASL_SSL_BROKERS='127.0.0.1:$KAFKA_SASL_PORT'
export KAFKA_SASL_SSL_CA='$DEVENV_DIR/kafka/tls/ca.crt'
export KAFKA_SASL_DEVENV_PASSWORD='$KAFKA_SASL_DEVENV_PASSWORD'
EOF
}

pg_bindir() {
  if command -v pg_ctl >/dev/null 2>&1; then dirname "$(command -v pg_ctl)"; return; fi
  ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1
}

apt_install() {
  command -v apt-get >/dev/null 2>&1 || die "missing $*, and no apt-get to install it with"
  [ "$(id -u)" = 0 ] || die "missing $*: install with 'sudo apt-get install -y $*'"
  log "installing $* from Debian's packages"
  # Stop apt from starting the packages' own system services: we run our own processes.
  local policy=/usr/sbin/policy-rc.d added=""
  if [ ! -e "$policy" ]; then printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod +x "$policy" && added=1; fi
  if ! DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null 2>&1; then
    apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
  fi
  [ -n "$added" ] && rm -f "$policy"
  return 0
}

install_missing() {
  mkdir -p "$DEVENV_DIR"
  local pkgs=()
  [ -n "$(pg_bindir)" ] && [ -x "$(pg_bindir)/initdb" ] || pkgs+=(postgresql)
  command -v redis-server >/dev/null 2>&1 || pkgs+=(redis-server)
  command -v kcat >/dev/null 2>&1 || pkgs+=(kcat)
  command -v promtool >/dev/null 2>&1 || pkgs+=(prometheus) # promtool, for the /metrics lint tests
  if ((${#pkgs[@]})); then apt_install "${pkgs[@]}"; fi
  command -v java >/dev/null 2>&1 || die "java (17+) is needed to run Kafka"
  if [ ! -f "$KAFKA_CACHE/.complete" ]; then
    command -v mvn >/dev/null 2>&1 || die "mvn is needed to fetch Kafka's jars"
    log "fetching Kafka $KAFKA_VERSION jars with Maven into $KAFKA_CACHE"
    rm -rf "$KAFKA_CACHE" && mkdir -p "$KAFKA_CACHE"
    mvn -q -B -f "$ROOT/hack/kafka/pom.xml" dependency:copy-dependencies \
      -DincludeScope=runtime -DoutputDirectory="$KAFKA_CACHE" >"$DEVENV_DIR/mvn.log" 2>&1 ||
      { cat "$DEVENV_DIR/mvn.log" >&2; die "could not fetch Kafka's jars"; }
    touch "$KAFKA_CACHE/.complete"
  fi
}

# as_pg_owner runs a PostgreSQL binary as a user it accepts: the server refuses to run as root.
as_pg_owner() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

pg_ready() { psql "$(database_url)" -Atqc 'select 1' 2>/dev/null | grep -q 1; }

# pg_password_auth makes the database password_auth ask for passwords (scram-sha-256) where every
# other one trusts loopback, owned by the orders role, which may create roles: the tests of
# passwords that URLs cannot hold unescaped (pkg/postgres, orders-service, make image-test) log in
# there as roles of their own, each granted CREATE on it for a schema of its own (PostgreSQL 15
# lets no one else write to its public schema). Applied to an existing data directory too, on its
# next up; a no-op when already there.
pg_password_auth() {
  local hba=$DEVENV_DIR/postgres/pg_hba.conf
  [ -f "$hba" ] || return 0 # a server that is not ours: leave its configuration alone
  local admin="postgres://postgres@127.0.0.1:$PGPORT/postgres?sslmode=disable"
  psql "$admin" -Atqc "select 1 from pg_database where datname='password_auth'" | grep -q 1 ||
    psql "$admin" -qc "create database password_auth owner $PG_USER" >/dev/null
  psql "$admin" -Atqc "select 1 from pg_database d join pg_roles r on r.oid = d.datdba
    where d.datname = 'password_auth' and r.rolname = '$PG_USER' and exists
    (select 1 from pg_roles where rolname = '$PG_USER' and rolcreaterole)" | grep -q 1 || {
    psql "$admin" -qc "alter database password_auth owner to $PG_USER" >/dev/null
    psql "$admin" -qc "alter role $PG_USER createrole" >/dev/null
  }
  grep -q '^host password_auth ' "$hba" && return
  # First match wins in pg_hba.conf, so the line goes above the trust lines.
  as_pg_owner sed -i '1i host password_auth all 127.0.0.1/32 scram-sha-256' "$hba"
  psql "$admin" -Atqc "select pg_reload_conf()" >/dev/null
}

up_postgres() {
  if pg_ready; then log "PostgreSQL answers on :$PGPORT, reusing it"; pg_password_auth; return; fi
  port_open "$PGPORT" && die "port $PGPORT is taken by a server that is not our PostgreSQL (set PGPORT to move ours)"
  local bin data=$DEVENV_DIR/postgres
  bin=$(pg_bindir)
  mkdir -p "$data"
  [ "$(id -u)" = 0 ] && chown postgres: "$data"
  if [ ! -f "$data/PG_VERSION" ]; then
    as_pg_owner "$bin/initdb" -D "$data" -U postgres --auth=trust -E UTF8 --no-locale >/dev/null
  fi
  log "starting PostgreSQL on 127.0.0.1:$PGPORT"
  as_pg_owner "$bin/pg_ctl" -D "$data" -l "$data/server.log" -w -t 30 \
    -o "-p $PGPORT -k $data -c listen_addresses=127.0.0.1 -c max_connections=200 -c fsync=off" start >/dev/null
  local admin="postgres://postgres@127.0.0.1:$PGPORT/postgres?sslmode=disable"
  psql "$admin" -Atqc "select 1 from pg_roles where rolname='$PG_USER'" | grep -q 1 ||
    psql "$admin" -qc "create role $PG_USER login createdb" >/dev/null
  psql "$admin" -Atqc "select 1 from pg_database where datname='$PG_DB'" | grep -q 1 ||
    psql "$admin" -qc "create database $PG_DB owner $PG_USER" >/dev/null
  pg_password_auth
  wait_for PostgreSQL 30 pg_ready || exit 1
}

redis_ready() { [ "$(redis-cli -h 127.0.0.1 -p "$REDIS_PORT" ping 2>/dev/null)" = PONG ]; }

up_redis() {
  if redis_ready; then log "Redis answers on :$REDIS_PORT, reusing it"; return; fi
  port_open "$REDIS_PORT" && die "port $REDIS_PORT is taken by a server that is not Redis (set REDIS_PORT to move ours)"
  local data=$DEVENV_DIR/redis
  mkdir -p "$data"
  log "starting Redis on 127.0.0.1:$REDIS_PORT"
  redis-server --bind 127.0.0.1 --port "$REDIS_PORT" --dir "$data" --save '' --appendonly no \
    --daemonize yes --pidfile "$data/redis.pid" --logfile "$data/redis.log"
  wait_for Redis 15 redis_ready || exit 1
}

kafka_ready() {
  port_open "$KAFKA_PORT" || return 1
  # A metadata answer that names a broker means the broker finished starting, not just bound.
  kcat -b "127.0.0.1:$KAFKA_PORT" -L -m 2 2>/dev/null | grep -q "1 brokers"
}

# kafka_tls makes, once, a CA and the broker's certificate for 127.0.0.1 and localhost (clients
# check the name: librdkafka verifies it by default). The key and the certificate go in one PEM
# file, which Kafka reads as a keystore of type PEM.
kafka_tls() {
  local tls=$DEVENV_DIR/kafka/tls
  [ -f "$tls/server.pem" ] && return
  command -v openssl >/dev/null 2>&1 || die "openssl is needed to make the SASL_SSL listener's certificates"
  mkdir -p "$tls"
  log "making the Kafka SASL_SSL listener's CA and certificate in $tls"
  openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj "/CN=order-tracking devenv CA" \
    -keyout "$tls/ca.key" -out "$tls/ca.crt" 2>/dev/null
  openssl req -newkey rsa:2048 -nodes -subj "/CN=localhost" \
    -keyout "$tls/server.key" -out "$tls/server.csr" 2>/dev/null
  printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n' >"$tls/server.ext"
  openssl x509 -req -in "$tls/server.csr" -CA "$tls/ca.crt" -CAkey "$tls/ca.key" -CAcreateserial \
    -days 3650 -extfile "$tls/server.ext" -out "$tls/server.crt" 2>/dev/null
  cat "$tls/server.key" "$tls/server.crt" >"$tls/server.pem.tmp" && mv "$tls/server.pem.tmp" "$tls/server.pem"
}

# kafka_policy prints the local users and ACLs in DevenvSecurity.java's format. Each service
# gets what it needs on the events topic and its dead-letter topic, by literal name, and READ on
# the consumer groups named after it (prefixed: a test, or a second deployment, uses
# <service>-something without sharing the service's own group).
kafka_policy() {
  local svc
  for svc in orders-service tracking-service notification-service; do
    echo "user $svc $KAFKA_SASL_DEVENV_PASSWORD"
  done
  # CREATE: orders-service creates the topic at start when it is missing (KAFKA_CREATE_TOPIC).
  echo "allow orders-service topic literal order-events WRITE,DESCRIBE,CREATE"
  for svc in tracking-service notification-service; do
    echo "allow $svc topic literal order-events READ,DESCRIBE"
    # CREATE: the dead-letter producer's first record creates the topic on a broker that
    # auto-creates topics, as this one does.
    echo "allow $svc topic literal order-events.dlt WRITE,DESCRIBE,CREATE"
    echo "allow $svc group prefixed $svc READ"
  done
}

# kafka_secure applies kafka_policy through the PLAINTEXT listener, once per data directory:
# the marker is removed when the directory is formatted. A data directory from before the
# SASL_SSL listener existed has no marker, so it gets the users and ACLs on its next start.
kafka_secure() {
  local marker=$DEVENV_DIR/kafka/security.v1
  [ -f "$marker" ] && return
  log "creating Kafka's local SCRAM users and ACLs"
  kafka_policy | java -Xmx256m -Dlog4j2.configurationFile="$DEVENV_DIR/kafka/log4j2.properties" \
    -cp "$KAFKA_CACHE/*" "$ROOT/hack/kafka/DevenvSecurity.java" "127.0.0.1:$KAFKA_PORT" >/dev/null ||
    die "could not create Kafka's users and ACLs"
  touch "$marker"
}

kafka_sasl_ready() { port_open "$KAFKA_SASL_PORT" && [ -f "$DEVENV_DIR/kafka/security.v1" ]; }

kafka_tool() {
  java -Xmx256m -Dlog4j2.configurationFile="$DEVENV_DIR/kafka/log4j2.properties" -cp "$KAFKA_CACHE/*" "$@"
}

up_kafka() {
  if kafka_ready; then
    log "Kafka answers on :$KAFKA_PORT, reusing it"
    # A broker started before the SASL_SSL listener existed keeps running without it; say how
    # to get it rather than restart a broker others may be using.
    if port_open "$KAFKA_SASL_PORT"; then kafka_secure; else
      log "warning: no SASL_SSL listener on :$KAFKA_SASL_PORT (a broker started by an older devenv.sh): 'hack/devenv.sh stop-kafka && hack/devenv.sh up' restarts it with one"
    fi
    return
  fi
  port_open "$KAFKA_PORT" && die "port $KAFKA_PORT is taken by a server that is not a ready Kafka (set KAFKA_PORT to move ours)"
  port_open "$KAFKA_SASL_PORT" && die "port $KAFKA_SASL_PORT is taken (set KAFKA_SASL_PORT to move Kafka's SASL_SSL listener)"
  local dir=$DEVENV_DIR/kafka
  mkdir -p "$dir/data"
  kafka_tls
  cat >"$dir/server.properties" <<EOF
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$KAFKA_CONTROLLER_PORT
listeners=PLAINTEXT://127.0.0.1:$KAFKA_PORT,CONTROLLER://127.0.0.1:$KAFKA_CONTROLLER_PORT,SASL_SSL://127.0.0.1:$KAFKA_SASL_PORT
advertised.listeners=PLAINTEXT://127.0.0.1:$KAFKA_PORT,SASL_SSL://127.0.0.1:$KAFKA_SASL_PORT
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT,SASL_SSL:SASL_SSL
# ACLs are enforced; the PLAINTEXT and controller listeners' clients are User:ANONYMOUS, made
# super users so that the broker itself, every test and 'make run' work as before.
authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer
super.users=User:ANONYMOUS
allow.everyone.if.no.acl.found=false
sasl.enabled.mechanisms=SCRAM-SHA-512
listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;
ssl.keystore.type=PEM
ssl.keystore.location=$dir/tls/server.pem
log.dirs=$dir/data
num.partitions=3
auto.create.topics.enable=true
offsets.topic.replication.factor=1
offsets.topic.num.partitions=3
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
EOF
  cat >"$dir/log4j2.properties" <<EOF
status = error
appender.file.type = File
appender.file.name = file
appender.file.fileName = $dir/server.log
appender.file.layout.type = PatternLayout
appender.file.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = info
rootLogger.appenderRef.file.ref = file
EOF
  if [ ! -f "$dir/data/meta.properties" ]; then
    local cluster_id
    cluster_id=$(kafka_tool kafka.tools.StorageTool random-uuid 2>/dev/null | tail -n 1)
    kafka_tool kafka.tools.StorageTool format -t "$cluster_id" -c "$dir/server.properties" >/dev/null
    rm -f "$dir/security.v1"
  fi
  log "starting Kafka $KAFKA_VERSION (KRaft) on 127.0.0.1:$KAFKA_PORT"
  # setsid: the broker outlives this script and the terminal that ran it; $! is the JVM itself.
  setsid nohup java -Xms256m -Xmx768m -XX:+UseG1GC -Djava.awt.headless=true \
    -Dlog4j2.configurationFile="$dir/log4j2.properties" -cp "$KAFKA_CACHE/*" \
    kafka.Kafka "$dir/server.properties" >"$dir/stdout.log" 2>&1 </dev/null &
  echo $! >"$dir/kafka.pid"
  # The users and ACLs are applied while the broker starts: the JVM that applies them starts and
  # compiles in that time, and its Admin client retries until the broker answers.
  local secure=""
  if [ ! -f "$dir/security.v1" ]; then kafka_secure & secure=$!; fi
  wait_for Kafka 90 kafka_ready || { tail -n 40 "$dir/server.log" "$dir/stdout.log" >&2; exit 1; }
  if [ -n "$secure" ]; then wait "$secure" || exit 1; fi
  wait_for "Kafka's SASL_SSL listener" 30 kafka_sasl_ready || { tail -n 40 "$dir/server.log" >&2; exit 1; }
}

down_kafka() {
  local pidfile=$DEVENV_DIR/kafka/kafka.pid
  if [ -f "$pidfile" ]; then
    local pid; pid=$(cat "$pidfile")
    kill -TERM "$pid" 2>/dev/null || true
    local deadline=$((SECONDS + 30))
    while kill -0 "$pid" 2>/dev/null && ((SECONDS < deadline)); do sleep 0.2; done
    kill -KILL "$pid" 2>/dev/null || true
    rm -f "$pidfile"
    log "Kafka stopped"
  fi
}

down() {
  down_kafka
  if [ -f "$DEVENV_DIR/redis/redis.pid" ]; then
    kill -TERM "$(cat "$DEVENV_DIR/redis/redis.pid")" 2>/dev/null || true
    rm -f "$DEVENV_DIR/redis/redis.pid"; log "Redis stopped"
  fi
  if [ -f "$DEVENV_DIR/postgres/postmaster.pid" ]; then
    as_pg_owner "$(pg_bindir)/pg_ctl" -D "$DEVENV_DIR/postgres" -m fast -w stop >/dev/null || true
    log "PostgreSQL stopped"
  fi
}

status() {
  local rc=0
  if pg_ready; then echo "postgres: up ($(database_url))"; else echo "postgres: down"; rc=1; fi
  if redis_ready; then echo "redis:    up (127.0.0.1:$REDIS_PORT)"; else echo "redis:    down"; rc=1; fi
  if kafka_ready; then echo "kafka:    up (127.0.0.1:$KAFKA_PORT)"; else echo "kafka:    down"; rc=1; fi
  if kafka_sasl_ready; then echo "kafka:    SASL_SSL up (127.0.0.1:$KAFKA_SASL_PORT)"; else echo "kafka:    SASL_SSL down"; rc=1; fi
  return $rc
}

# pids SERVER prints the process ids of one of the servers `up` started.
pids() {
  case ${1:-} in
    postgres)
      local pm; pm=$(head -n 1 "$DEVENV_DIR/postgres/postmaster.pid" 2>/dev/null) || die "PostgreSQL is not running from $DEVENV_DIR"
      echo "$pm"; pgrep -P "$pm" || true ;;
    redis) cat "$DEVENV_DIR/redis/redis.pid" 2>/dev/null || die "Redis is not running from $DEVENV_DIR" ;;
    kafka) cat "$DEVENV_DIR/kafka/kafka.pid" 2>/dev/null || die "Kafka is not running from $DEVENV_DIR" ;;
    *) die "usage: $0 pids postgres|redis|kafka" ;;
  esac
}

# crash_restart_postgres stops PostgreSQL as a crash would (no checkpoint; every
# session cut), then starts it again with the options of its last start.
crash_restart_postgres() {
  as_pg_owner "$(pg_bindir)/pg_ctl" -D "$DEVENV_DIR/postgres" -l "$DEVENV_DIR/postgres/server.log" \
    -m immediate -w -t 60 restart >/dev/null
  wait_for PostgreSQL 60 pg_ready
}

case ${1:-} in
  up)
    install_missing
    mkdir -p "$DEVENV_DIR"
    up_postgres
    up_redis
    up_kafka
    print_env
    ;;
  down) down ;;
  status) status ;;
  env) print_env ;;
  stop-kafka) down_kafka ;;
  start-kafka) install_missing; mkdir -p "$DEVENV_DIR"; up_kafka ;;
  pids) pids "${2:-}" ;;
  crash-restart-postgres) crash_restart_postgres ;;
  *) echo "usage: $0 up|down|status|env|stop-kafka|start-kafka|pids SERVER|crash-restart-postgres" >&2; exit 2 ;;
esac
