#!/usr/bin/env bash
# cluster.sh: starts and stops the test cluster, a real Kubernetes control plane on loopback with
# simulated nodes. It runs no tests: hack/verify-cluster.sh (`make cluster-test`) tests the chart
# on it.
#
#   hack/cluster.sh up           build what is missing, start the cluster, wait for Ready nodes
#   hack/cluster.sh down         stop what `up` started (by PID: kwok, scheduler, controller
#                                manager, API server, then etcd) and remove its state
#   hack/cluster.sh kubeconfig   print the kubeconfig's path (export KUBECONFIG=$(...))
#   hack/cluster.sh env          print `export` lines: KUBECONFIG and PATH with the cluster's tools
#   hack/cluster.sh status       say what runs
#   hack/cluster.sh bin          build what is missing and print the directory of the binaries
#   hack/cluster.sh skaffold     build skaffold if missing and print its directory
#
# The components are etcd, kube-apiserver, kube-controller-manager, kube-scheduler and kubectl of
# Kubernetes v1.37, and kwok, which plays the kubelet of three nodes: Pods turn Ready and the
# Pods of Jobs complete by kwok's own stage configurations. There is no container runtime: no
# container ever runs. The binaries come from the Go modules in hack/cluster (outside go.work),
# built once into a cache keyed by those modules' content (first build: about 15 minutes on
# 2 cores; warm: nothing to build).
#
# Everything listens on 127.0.0.1 only. The API server has a self-signed serving certificate and
# one static token (system:masters); both are made anew by each `up`.
#
# Settings: TESTCLUSTER_DIR (state and logs, default .devenv/testcluster, ignored by git),
# TESTCLUSTER_PORT (API server, default 16443; etcd takes the two ports after it),
# TESTCLUSTER_NODES (default 3), CLUSTER_CACHE (default ~/.cache/order-tracking/cluster).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
MODULE=$ROOT/hack/cluster
DIR=${TESTCLUSTER_DIR:-$ROOT/.devenv/testcluster}
API_PORT=${TESTCLUSTER_PORT:-16443}
ETCD_PORT=$((API_PORT + 1))
ETCD_PEER_PORT=$((API_PORT + 2))
NODES=${TESTCLUSTER_NODES:-3}
CACHE=${CLUSTER_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/order-tracking/cluster}
# The order in which `up` starts the components; `down` stops them in reverse.
COMPONENTS=(etcd kube-apiserver kube-controller-manager kube-scheduler kwok)

log() { printf '[testcluster] %s\n' "$*" >&2; }
die() { printf '[testcluster] error: %s\n' "$*" >&2; exit 1; }

go_env() { env GOWORK=off GOFLAGS="-mod=readonly -buildvcs=false" "$@"; }

# module_version MODULE: the version hack/cluster/go.mod requires.
module_version() { awk -v m="$1" '$1 == m { print $2; exit }' "$MODULE/go.mod"; }

# cache_key DIR: a hash of what the binaries built from the module in DIR depend on.
# go.mod's comment lines are left out: rewording them must not cost a rebuild.
cache_key() {
	(
		grep -v '^[[:space:]]*//' "$1/go.mod"
		cat "$1/go.sum"
		find "$1/cmd" -type f -name '*.go' 2>/dev/null | LC_ALL=C sort | xargs -r cat
		go env GOVERSION GOOS GOARCH
		echo "$2"
	) | sha256sum | cut -c1-16
}

# prune PREFIX KEEP: removes cache entries of PREFIX other than KEEP (built from an older module).
prune() {
	find "$CACHE" -mindepth 1 -maxdepth 1 -type d -name "$1-*" ! -name "$2" -exec rm -rf {} + 2>/dev/null || true
}

# build_k8s: builds the control plane and kwok once, prints the bin directory.
build_k8s() {
	local kube major minor ldflags key dir
	kube=$(module_version k8s.io/kubernetes)
	major=${kube#v}; major=${major%%.*}
	minor=${kube#v*.}; minor=${minor%%.*}
	# What kube::version::ldflags stamps in an upstream build, so that clients and
	# `kubectl version` see the release rather than v0.0.0-master.
	ldflags="-s -w"
	for p in k8s.io/client-go/pkg/version k8s.io/component-base/version; do
		ldflags+=" -X $p.gitVersion=$kube -X $p.gitMajor=$major -X $p.gitMinor=$minor"
		ldflags+=" -X $p.gitTreeState=clean -X $p.buildDate=1970-01-01T00:00:00Z"
	done
	key=$(cache_key "$MODULE" "$ldflags")
	dir=$CACHE/k8s-$key
	if [ ! -x "$dir/bin/kwok" ]; then
		log "building etcd, kube-apiserver, kube-controller-manager, kube-scheduler, kubectl and kwok ($kube) into $dir (first run only; about 15 minutes on 2 cores)"
		prune k8s "k8s-$key"
		rm -rf "$dir.tmp" && mkdir -p "$dir.tmp/bin"
		local start=$SECONDS
		# One go build for all six: they share most of their packages.
		(cd "$MODULE" && go_env go build -trimpath -ldflags "$ldflags" -o "$dir.tmp/bin/" ./cmd/...) >&2
		rm -rf "$dir" && mv "$dir.tmp" "$dir"
		log "built in $((SECONDS - start))s"
	fi
	[ -f "$dir/kwok-stages.yaml" ] || stages "$dir/kwok-stages.yaml"
	echo "$dir/bin"
}

# stages FILE: writes kwok's configuration with kwok's own default stages (the ones kwokctl
# uses), taken from the pinned kwok module: nodes initialise at once and keep a lease, Pods turn
# Ready at once, the Pods of Jobs then succeed, deleted Pods go away.
stages() {
	local kwok
	kwok=$(cd "$MODULE" && go_env go list -m -f '{{.Dir}}' sigs.k8s.io/kwok)
	# No KwokConfiguration here: one in the file replaces kwok's defaults instead of adding to
	# them; the options are flags (see cmd_up).
	{
		for f in node/fast/node-initialize.yaml node/heartbeat-with-lease/node-heartbeat-with-lease.yaml \
			pod/fast/pod-ready.yaml pod/fast/pod-complete.yaml pod/fast/pod-delete.yaml; do
			[ -f "$kwok/kustomize/stage/$f" ] || die "kwok $(module_version sigs.k8s.io/kwok) has no stage $f"
			echo "---"
			cat "$kwok/kustomize/stage/$f"
		done
	} >"$1"
}

# build_skaffold: builds skaffold from hack/cluster/skaffold once, prints the bin directory.
build_skaffold() {
	local mod=$MODULE/skaffold version ldflags key dir
	version=$(awk '$1 == "github.com/GoogleContainerTools/skaffold/v2" { print $2; exit }' "$mod/go.mod")
	ldflags="-s -w -X github.com/GoogleContainerTools/skaffold/v2/pkg/skaffold/version.version=$version"
	key=$(cache_key "$mod" "$ldflags")
	dir=$CACHE/skaffold-$key
	if [ ! -x "$dir/bin/skaffold" ]; then
		log "building skaffold $version into $dir (first run only)"
		prune skaffold "skaffold-$key"
		rm -rf "$dir.tmp" && mkdir -p "$dir.tmp/bin"
		local start=$SECONDS
		(cd "$mod" && go_env go build -trimpath -ldflags "$ldflags" -o "$dir.tmp/bin/" github.com/GoogleContainerTools/skaffold/v2/cmd/skaffold) >&2
		rm -rf "$dir" && mv "$dir.tmp" "$dir"
		log "built in $((SECONDS - start))s"
	fi
	echo "$dir/bin"
}

pidfile() { echo "$DIR/run/$1.pid"; }

# running NAME: whether the process recorded for NAME is alive and still ours.
running() {
	local f pid
	f=$(pidfile "$1")
	[ -f "$f" ] || return 1
	pid=$(cat "$f")
	[ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || return 1
	# A recycled PID belongs to another program: compare the executable's name.
	[ "$(basename "$(readlink "/proc/$pid/exe" 2>/dev/null)")" = "$1" ]
}

# start NAME ARGS...: starts $BIN/NAME in the background, its output in logs/NAME.log.
start() {
	local name=$1
	shift
	nohup "$BIN/$name" "$@" >"$DIR/logs/$name.log" 2>&1 </dev/null &
	echo $! >"$(pidfile "$name")"
}

# stop NAME: SIGTERM, then SIGKILL after 15 s; waits until the process is gone.
stop() {
	local f pid i
	f=$(pidfile "$1")
	if running "$1"; then
		pid=$(cat "$f")
		kill -TERM "$pid" 2>/dev/null || true
		for ((i = 0; i < 150; i++)); do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.1
		done
		if kill -0 "$pid" 2>/dev/null; then
			log "$1 (pid $pid) ignored SIGTERM; killing it"
			kill -KILL "$pid" 2>/dev/null || true
			while kill -0 "$pid" 2>/dev/null; do sleep 0.1; done
		fi
		log "stopped $1 (pid $pid)"
	fi
	rm -f "$f"
}

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# wait_for WHAT SECONDS COMPONENT COMMAND...: polls COMMAND until it succeeds; fails early, with
# the end of its log, when COMPONENT has exited.
wait_for() {
	local what=$1 secs=$2 comp=$3
	shift 3
	local deadline=$((SECONDS + secs))
	until "$@" >/dev/null 2>&1; do
		if ! running "$comp"; then
			tail -n 30 "$DIR/logs/$comp.log" >&2 || true
			die "$comp exited while waiting for $what (log: $DIR/logs/$comp.log)"
		fi
		if ((SECONDS >= deadline)); then
			tail -n 30 "$DIR/logs/$comp.log" >&2 || true
			die "$what not ready within ${secs}s (log: $DIR/logs/$comp.log)"
		fi
		sleep 0.2
	done
}

kubectl() { "$BIN/kubectl" --kubeconfig "$DIR/kubeconfig" "$@"; }

# pki: a self-signed serving certificate for 127.0.0.1, the service-account signing key and a
# random static token, with a kubeconfig that trusts the certificate and carries the token.
pki() {
	local pki=$DIR/pki token
	mkdir -p "$pki"
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 7 \
		-subj "/CN=testcluster-apiserver" \
		-addext "subjectAltName=IP:127.0.0.1,DNS:localhost,DNS:kubernetes.default.svc" \
		-keyout "$pki/apiserver.key" -out "$pki/apiserver.crt" 2>/dev/null
	openssl genrsa -out "$pki/sa.key" 2048 2>/dev/null
	openssl rsa -in "$pki/sa.key" -pubout -out "$pki/sa.pub" 2>/dev/null
	token=$(openssl rand -hex 24)
	echo "$token,testcluster-admin,testcluster-admin,system:masters" >"$pki/tokens.csv"
	chmod 600 "$pki"/*
	cat >"$DIR/kubeconfig" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: testcluster
  cluster:
    server: https://127.0.0.1:$API_PORT
    certificate-authority-data: $(base64 -w0 "$pki/apiserver.crt")
users:
- name: testcluster-admin
  user:
    token: $token
contexts:
- name: testcluster
  context:
    cluster: testcluster
    user: testcluster-admin
current-context: testcluster
EOF
	chmod 600 "$DIR/kubeconfig"
}

nodes_manifest() {
	local i
	for ((i = 0; i < NODES; i++)); do
		cat <<EOF
---
apiVersion: v1
kind: Node
metadata:
  name: kwok-node-$i
  annotations:
    kwok.x-k8s.io/node: fake
    node.alpha.kubernetes.io/ttl: "0"
  labels:
    kubernetes.io/hostname: kwok-node-$i
    kubernetes.io/os: linux
    kubernetes.io/arch: amd64
    node-role.kubernetes.io/agent: ""
    type: kwok
    topology.kubernetes.io/zone: zone-$((i % 3))
status:
  allocatable: {cpu: "32", memory: 256Gi, pods: "110", ephemeral-storage: 1Ti}
  capacity: {cpu: "32", memory: 256Gi, pods: "110", ephemeral-storage: 1Ti}
EOF
	done
}

all_nodes_ready() {
	local ready
	ready=$(kubectl get nodes -o jsonpath='{range .items[*]}{.status.conditions[?(@.type=="Ready")].status}{"\n"}{end}' | grep -c '^True$')
	[ "$ready" -ge "$NODES" ]
}

cmd_up() {
	BIN=$(build_k8s)
	local stagefile
	stagefile=$(dirname "$BIN")/kwok-stages.yaml
	if running kube-apiserver && running etcd && [ -f "$DIR/kubeconfig" ] && kubectl get --raw=/readyz >/dev/null 2>&1; then
		log "already running (kubeconfig: $DIR/kubeconfig)"
		return 0
	fi
	# Something half-started is of no use: begin again, and stop what this call started if it
	# fails.
	cmd_down quiet
	trap 'cmd_down quiet' EXIT
	for p in "$API_PORT" "$ETCD_PORT" "$ETCD_PEER_PORT"; do
		port_open "$p" && die "port $p on 127.0.0.1 is taken by another program (set TESTCLUSTER_PORT)"
	done
	mkdir -p "$DIR/run" "$DIR/logs" "$DIR/etcd"
	local start=$SECONDS
	pki

	start etcd --name=testcluster --data-dir="$DIR/etcd" \
		--listen-client-urls="http://127.0.0.1:$ETCD_PORT" --advertise-client-urls="http://127.0.0.1:$ETCD_PORT" \
		--listen-peer-urls="http://127.0.0.1:$ETCD_PEER_PORT" --initial-advertise-peer-urls="http://127.0.0.1:$ETCD_PEER_PORT" \
		--initial-cluster="testcluster=http://127.0.0.1:$ETCD_PEER_PORT" \
		--listen-metrics-urls= --auto-compaction-retention=1 --quota-backend-bytes=1073741824 \
		--unsafe-no-fsync --log-level=warn
	wait_for "etcd" 30 etcd port_open "$ETCD_PORT"

	# The endpoint reconciler refuses a loopback address for the `kubernetes` Service; nothing
	# in this cluster reaches the API server through that Service, so it has no endpoints.
	start kube-apiserver --bind-address=127.0.0.1 --advertise-address=127.0.0.1 --secure-port="$API_PORT" \
		--etcd-servers="http://127.0.0.1:$ETCD_PORT" \
		--tls-cert-file="$DIR/pki/apiserver.crt" --tls-private-key-file="$DIR/pki/apiserver.key" \
		--token-auth-file="$DIR/pki/tokens.csv" --authorization-mode=RBAC --anonymous-auth=false \
		--service-account-issuer=https://kubernetes.default.svc.cluster.local \
		--service-account-key-file="$DIR/pki/sa.pub" --service-account-signing-key-file="$DIR/pki/sa.key" \
		--service-cluster-ip-range=10.96.0.0/16 --allow-privileged=false --profiling=false \
		--endpoint-reconciler-type=none
	wait_for "kube-apiserver" 60 kube-apiserver kubectl get --raw=/readyz

	start kube-controller-manager --kubeconfig="$DIR/kubeconfig" --secure-port=0 --leader-elect=false \
		--root-ca-file="$DIR/pki/apiserver.crt" --service-account-private-key-file="$DIR/pki/sa.key" \
		--use-service-account-credentials=false --kube-api-qps=200 --kube-api-burst=400
	start kube-scheduler --kubeconfig="$DIR/kubeconfig" --secure-port=0 --leader-elect=false \
		--kube-api-qps=200 --kube-api-burst=400
	start kwok --kubeconfig="$DIR/kubeconfig" --config="$stagefile" --manage-all-nodes=true \
		--node-lease-duration-seconds=40

	nodes_manifest | kubectl apply -f - >/dev/null
	wait_for "$NODES Ready nodes" 60 kwok all_nodes_ready
	# Pods need the namespace's default ServiceAccount, which the controller manager makes.
	wait_for "the default ServiceAccount" 30 kube-controller-manager kubectl -n default get serviceaccount default
	trap - EXIT
	log "up in $((SECONDS - start))s: $(kubectl version -o json | sed -n 's/.*"gitVersion": "\(v[^"]*\)".*/\1/p' | tail -n 1), $NODES Ready nodes; kubeconfig: $DIR/kubeconfig"
}

cmd_down() {
	local i
	for ((i = ${#COMPONENTS[@]} - 1; i >= 0; i--)); do
		stop "${COMPONENTS[i]}"
	done
	rm -rf "$DIR/etcd" "$DIR/pki" "$DIR/run" "$DIR/kubeconfig"
	[ "${1:-}" = quiet ] || log "down"
}

cmd_status() {
	local c
	for c in "${COMPONENTS[@]}"; do
		if running "$c"; then echo "$c: running (pid $(cat "$(pidfile "$c")"))"; else echo "$c: stopped"; fi
	done
}

case ${1:-} in
up) cmd_up ;;
down) cmd_down ;;
status) cmd_status ;;
kubeconfig) echo "$DIR/kubeconfig" ;;
env)
	echo "export KUBECONFIG='$DIR/kubeconfig'"
	echo "export PATH='$(build_k8s):$PATH'"
	;;
bin) build_k8s ;;
skaffold) build_skaffold ;;
*)
	sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed -e '$d' -e 's/^# \{0,1\}//' >&2
	exit 2
	;;
esac
