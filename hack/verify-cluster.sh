#!/usr/bin/env bash
# verify-cluster.sh (`make cluster-test`, part of `make test`): starts the test cluster, a real
# Kubernetes v1.37 control plane with simulated nodes (hack/cluster.sh up), installs the platform's
# chart on it and checks what schema validation cannot:
#   - the API server reports v1.37.2 and three nodes are Ready
#   - the Strimzi and prometheus-operator CRDs (and Gateway API's HTTPRoute) apply and are Established
#   - `kubectl apply --dry-run=server` accepts every object the chart renders, for the default
#     values with only an OIDC issuer set (the defaults alone refuse to render: auth.issuerURL is
#     required) and every charts/order-tracking/ci/*.yaml
#   - `helm upgrade --install --wait` with only an issuer set succeeds, tracking-service's
#     client-credentials Secret created beforehand under its default name (<fullname>-oidc-client):
#     the migration hook Jobs complete, every Deployment is Available; a second upgrade with a
#     changed value rolls every Deployment
#   - `helm uninstall` leaves no object of the release behind, and keeps the Secret
#     postgresql-credentials (made by `hack/deploy.sh secrets`, as `make deploy` does); a second
#     `hack/deploy.sh secrets` keeps it unchanged, and a reinstall succeeds like the first with
#     both services reading their database passwords from that same Secret; uninstalled again
#   - skaffold (built from the Go module proxy): `diagnose --yaml-only`, `render --offline` and
#     `deploy --status-check` of the app-only profile (auth.mode=off) with prebuilt image names; then
#     `helm uninstall` again leaves nothing behind
# and prints a summary; a failure names the object and the server's message.
#
# No container runs: kwok plays the kubelets, so Pods turn Ready and the Pods of Jobs succeed
# without their programs. What a real kubelet adds (pulling images, probes) is the kind workflow's
# job (.github/workflows/kind.yaml).
#
# Environment:
#   CRDS_DIR      Strimzi 1.2.0 and prometheus-operator v0.93.0 CRDs (default ../shared/crds)
#   GATEWAY_API   sigs.k8s.io/gateway-api module version for the HTTPRoute CRD (default v1.5.1)
#   KEEP_CLUSTER  1: leave the cluster running afterwards (hack/cluster.sh down stops it)
#   SKIP_SKAFFOLD 1: leave out the skaffold checks (and skaffold's first build)
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"

KUBE_VERSION=v1.37.2
GATEWAY_API=${GATEWAY_API:-v1.5.1}
CRDS_DIR=${CRDS_DIR:-$root/../shared/crds}
chart=charts/order-tracking
release=order-tracking
ns=order-tracking
# Access control as a real install has it: tokens from an issuer (never called: no container
# runs), tracking-service's OAuth 2.0 client from the Secret prepare_namespace creates, under
# the name the chart defaults to (auth.clientCredentials.existingSecret unset): <fullname>-oidc-client.
oidc_secret=$release-oidc-client
auth=(--set auth.issuerURL=https://issuer.example.com)

work=$(mktemp -d)
cleanup() {
	local rc=$?
	if [ "${KEEP_CLUSTER:-}" != 1 ]; then hack/cluster.sh down >/dev/null 2>&1 || true; fi
	rm -rf "$work"
	exit "$rc"
}
trap cleanup EXIT

# shellcheck source=lib/steps.sh
. "$root/hack/lib/steps.sh"

echo "== cluster-test: tools"
start=$SECONDS
tools=$(hack/tools.sh)
bin=$(hack/cluster.sh bin)
export PATH="$bin:$tools:$PATH"
export HELM_CONFIG_HOME=$work/helm/config HELM_CACHE_HOME=$work/helm/cache HELM_DATA_HOME=$work/helm/data
if [ "${SKIP_SKAFFOLD:-}" != 1 ]; then
	skaffold_bin=$(hack/cluster.sh skaffold)
	export PATH="$skaffold_bin:$PATH"
fi
echo "   $(helm version --short), $(kubectl version --client -o json | sed -n 's/.*"gitVersion": "\(.*\)".*/kubectl \1/p' | head -n 1)${skaffold_bin:+, skaffold $(skaffold version)}, in $((SECONDS - start))s"

echo "== cluster-test: cluster"
hack/cluster.sh up
KUBECONFIG=$(hack/cluster.sh kubeconfig)
export KUBECONFIG

server_version() {
	local v
	v=$(kubectl version -o json | sed -n '/serverVersion/,/}/s/.*"gitVersion": "\(.*\)".*/\1/p')
	info "server $v"
	[ "$v" = "$KUBE_VERSION" ] || { echo "server reports $v, want $KUBE_VERSION"; return 1; }
	kubectl get nodes -o wide | sed 's/^/INFO: /'
}
step "kube-apiserver reports $KUBE_VERSION, nodes Ready" server_version

# module_dir MODULE@VERSION: where the Go module proxy's copy is unpacked.
module_dir() {
	(cd "$work" && GOWORK=off GOFLAGS=-mod=mod go mod download -json "$1") |
		awk -F'"' '$2 == "Dir" { print $4 }'
}

echo "== cluster-test: checks"
crds() {
	[ -d "$CRDS_DIR" ] || { echo "CRDS_DIR=$CRDS_DIR does not exist"; return 1; }
	local gw files=() f names
	gw=$(module_dir "sigs.k8s.io/gateway-api@$GATEWAY_API")
	files=("$CRDS_DIR"/*.yaml "$gw/config/crd/standard/gateway.networking.k8s.io_httproutes.yaml")
	# Server-side apply: the CRDs are larger than the last-applied annotation allows.
	for f in "${files[@]}"; do
		kubectl apply --server-side --field-manager=cluster-test -f "$f" -o name >>"$work/crds.txt" || return 1
	done
	names=$(sort -u "$work/crds.txt")
	# shellcheck disable=SC2086 # one argument per CRD
	kubectl wait --for=condition=Established --timeout=60s $names || return 1
	info "$(echo "$names" | wc -l) CRDs Established: $(echo "$names" | sed 's#.*/##' | tr '\n' ' ')"
}
step "CRDs applied and Established (Strimzi, prometheus-operator, Gateway API)" crds

# The namespace; the database Secret as `make deploy` makes it (hack/deploy.sh secrets); the
# Secret the Bitnami Redis release creates; those the Strimzi operators would create (each
# KafkaUser's password, the cluster CA), which the pods read; and the one the operator of the
# platform creates for tracking-service's client.
prepare_namespace() {
	kubectl create namespace "$ns" --dry-run=client -o yaml | kubectl apply -f -
	NAMESPACE=$ns MONITORING=false HELM=$(command -v helm) KUBECTL=kubectl hack/deploy.sh secrets | sed 's/^/INFO: /'
	kubectl -n "$ns" create secret generic redis --from-literal=redis-password=cluster-test \
		--dry-run=client -o yaml | kubectl apply -f -
	local s
	for s in orders-service tracking-service notification-service; do
		kubectl -n "$ns" create secret generic "$release-$s" --from-literal=password=cluster-test \
			--dry-run=client -o yaml | kubectl apply -f -
	done
	kubectl -n "$ns" create secret generic "$release-kafka-cluster-ca-cert" --from-literal=ca.crt=cluster-test \
		--dry-run=client -o yaml | kubectl apply -f -
	kubectl -n "$ns" create secret generic "$oidc_secret" --from-literal=client-id=tracking-service \
		--from-literal=client-secret=cluster-test --dry-run=client -o yaml | kubectl apply -f -
	# Hook Jobs run as the namespace's default ServiceAccount, which the controller manager makes.
	local i
	for ((i = 0; i < 100; i++)); do
		kubectl -n "$ns" get serviceaccount default >/dev/null 2>&1 && return 0
		sleep 0.2
	done
	echo "serviceaccount/default in $ns was not created"
	return 1
}
step "namespace $ns with the postgresql-credentials, redis, Strimzi and $oidc_secret Secrets" prepare_namespace
# The database Secret as it is now: uid and data. A reinstall must find the very same one.
# shellcheck disable=SC2016 # a Go template, not shell
db_secret() { kubectl -n "$ns" get secret postgresql-credentials -o go-template='{{.metadata.uid}} {{range $k, $v := .data}}{{$k}}={{$v}} {{end}}' | sha256sum; }
db_secret >"$work/db-secret.txt"

# What of ours exists: every listable object in the namespace, and every cluster-scoped one
# labelled as the release's. Events are records, not objects of ours.
inventory() {
	local types
	types=$(kubectl api-resources --verbs=list --namespaced -o name | grep -v -e '^events' | LC_ALL=C sort | paste -sd, -)
	kubectl -n "$ns" get "$types" -o name 2>/dev/null | LC_ALL=C sort
	types=$(kubectl api-resources --verbs=list --namespaced=false -o name | LC_ALL=C sort | paste -sd, -)
	kubectl get "$types" -l "app.kubernetes.io/instance=$release" -o name 2>/dev/null | LC_ALL=C sort
}
inventory >"$work/baseline.txt"

# dry_run NAME [helm args]: renders the chart as helm would install it on this cluster and has
# the API server validate every object (admission, defaulting, immutable fields, CRD schemas).
dry_run() {
	local out=$work/dry-run.yaml apis
	apis=$(kubectl api-versions | sed 's/^/--api-versions=/' | paste -sd' ' -)
	# shellcheck disable=SC2086 # one flag per API version
	helm template "$release" "$chart" --namespace "$ns" --kube-version "$KUBE_VERSION" $apis "$@" >"$out" || return 1
	local n
	n=$(grep -c '^kind:' "$out")
	if ! kubectl apply --dry-run=server -n "$ns" -f "$out" >"$work/apply.log" 2>&1; then
		# kubectl names each refused object and quotes the server's message.
		grep -v '(server dry run)$' "$work/apply.log"
		return 1
	fi
	info "$(grep -c '(server dry run)$' "$work/apply.log") of $n objects accepted: $(sed -n 's#^\([a-z0-9.]*\)/.*#\1#p' "$work/apply.log" | sort | uniq -c | awk '{printf "%s %s, ", $1, $2}' | sed 's/, $//')"
}
step "kubectl apply --dry-run=server (defaults + only auth.issuerURL)" dry_run "${auth[@]}"
for f in "$chart"/ci/*.yaml; do
	step "kubectl apply --dry-run=server (ci/$(basename "$f"))" dry_run -f "$f"
done

# deployments_available: every Deployment of the release is Available with all replicas updated.
deployments_available() {
	local deploys
	deploys=$(kubectl -n "$ns" get deployments -l "app.kubernetes.io/instance=$release" -o name)
	[ -n "$deploys" ] || { echo "no Deployments of release $release in $ns"; return 1; }
	# shellcheck disable=SC2086 # one argument per Deployment
	kubectl -n "$ns" wait --for=condition=Available --timeout=60s $deploys || return 1
	kubectl -n "$ns" get deployments -l "app.kubernetes.io/instance=$release" \
		-o custom-columns='DEPLOYMENT:.metadata.name,READY:.status.readyReplicas,UPDATED:.status.updatedReplicas,AVAILABLE:.status.availableReplicas,GENERATION:.metadata.generation' |
		sed 's/^/INFO: /'
}

# hook_jobs_completed: the job controller recorded the completion of each migration Job that
# the last helm command ran (helm deletes the Jobs once they succeed, so the events, one per Job
# UID, are the evidence). Completions recorded before are in $work/jobs-seen.txt.
hook_jobs_completed() {
	local want got
	touch "$work/jobs-seen.txt"
	want=$(helm get hooks "$release" -n "$ns" | grep -c '^kind: Job$' || true)
	kubectl -n "$ns" get events --field-selector involvedObject.kind=Job,reason=Completed \
		-o jsonpath='{range .items[*]}{.involvedObject.uid} {.involvedObject.name}{"\n"}{end}' |
		LC_ALL=C sort -u >"$work/jobs-now.txt"
	got=$(comm -13 "$work/jobs-seen.txt" "$work/jobs-now.txt")
	cp "$work/jobs-now.txt" "$work/jobs-seen.txt"
	info "hook Jobs completed: $(echo "$got" | awk '{print $2}' | paste -sd' ' -)"
	[ "$(echo "$got" | grep -c .)" -ge "$want" ] ||
		{ echo "want $want completed migration Jobs, the job controller recorded: ${got:-none}"; return 1; }
}

install() {
	# Completions from before this install (a reused cluster) do not count.
	kubectl -n "$ns" get events --field-selector involvedObject.kind=Job,reason=Completed \
		-o jsonpath='{range .items[*]}{.involvedObject.uid} {.involvedObject.name}{"\n"}{end}' |
		LC_ALL=C sort -u >"$work/jobs-seen.txt"
	helm upgrade --install "$release" "$chart" --namespace "$ns" "${auth[@]}" --wait --timeout 2m || return 1
	helm status "$release" -n "$ns" | sed -n 's/^\(STATUS\|REVISION\): /INFO: \1 /p'
	hook_jobs_completed && deployments_available || return 1
	# tracking-service reads its client from the Secret of the default name.
	local refs
	refs=$(kubectl -n "$ns" get deployment "$release-tracking-service" \
		-o jsonpath='{range .spec.template.spec.containers[0].env[*]}{.name}={.valueFrom.secretKeyRef.name}{" "}{end}')
	info "tracking-service: $(echo "$refs" | grep -o 'OIDC_CLIENT_[A-Z]*=[^ ]*' | paste -sd' ' -)"
	local env
	for env in OIDC_CLIENT_ID OIDC_CLIENT_SECRET; do
		case " $refs " in
		*" $env=$oidc_secret "*) ;;
		*) echo "want tracking-service's $env from Secret $oidc_secret"; return 1 ;;
		esac
	done
}
step "helm upgrade --install --wait --timeout 2m (with only an issuer)" install

templates() {
	kubectl -n "$ns" get replicasets -l "app.kubernetes.io/instance=$release" \
		-o jsonpath='{range .items[?(@.status.replicas>0)]}{.metadata.name}{"\n"}{end}' | LC_ALL=C sort
}
upgrade() {
	templates >"$work/rs-before.txt"
	# A changed log level changes each service's ConfigMap, whose checksum the pod templates
	# carry: every Deployment must roll to a new ReplicaSet.
	helm upgrade "$release" "$chart" --namespace "$ns" "${auth[@]}" --wait --timeout 2m \
		--set serviceDefaults.logging.level=debug || return 1
	hook_jobs_completed && deployments_available || return 1
	templates >"$work/rs-after.txt"
	local kept
	kept=$(comm -12 "$work/rs-before.txt" "$work/rs-after.txt")
	[ -z "$kept" ] || { echo "these ReplicaSets still run pods after the upgrade (the Deployments did not roll): $kept"; return 1; }
	info "rolled: $(paste -sd' ' "$work/rs-before.txt") -> $(paste -sd' ' "$work/rs-after.txt")"
}
step "helm upgrade with a changed value rolls every Deployment" upgrade

# uninstall: helm uninstall, then wait for garbage collection; anything of ours still there
# after 60 s is named.
uninstall() {
	helm uninstall "$release" -n "$ns" --wait --timeout 2m || return 1
	local i
	for ((i = 0; i < 60; i++)); do
		inventory >"$work/now.txt"
		comm -13 "$work/baseline.txt" "$work/now.txt" >"$work/left.txt"
		[ -s "$work/left.txt" ] || return 0
		sleep 1
	done
	echo "left behind after helm uninstall:"
	cat "$work/left.txt"
	return 1
}
step "helm uninstall leaves nothing of ours" uninstall

# make deploy -> make undeploy -> make deploy: the Secret survives the uninstall and a second
# `hack/deploy.sh secrets` (which up runs first) keeps it; the reinstall works like the first
# install and reads the same Secret.
reinstall() {
	db_secret | cmp -s - "$work/db-secret.txt" || { echo "postgresql-credentials changed or went away with helm uninstall"; return 1; }
	NAMESPACE=$ns MONITORING=false HELM=$(command -v helm) KUBECTL=kubectl hack/deploy.sh secrets | sed 's/^/INFO: /'
	db_secret | cmp -s - "$work/db-secret.txt" || { echo "hack/deploy.sh secrets changed postgresql-credentials"; return 1; }
	install || return 1
	local d refs
	for d in orders-service notification-service; do
		refs=$(kubectl -n "$ns" get deployment "$release-$d" \
			-o jsonpath='{range .spec.template.spec.containers[0].env[?(@.name=="DATABASE_PASSWORD")]}{.valueFrom.secretKeyRef.name}/{.valueFrom.secretKeyRef.key}{end}')
		info "$d: DATABASE_PASSWORD from $refs"
		case $refs in
		postgresql-credentials/*-password) ;;
		*) echo "want $d's DATABASE_PASSWORD from Secret postgresql-credentials, got ${refs:-none}"; return 1 ;;
		esac
	done
	db_secret | cmp -s - "$work/db-secret.txt" || { echo "the reinstall changed postgresql-credentials"; return 1; }
}
step "reinstall after uninstall: the same postgresql-credentials Secret, kept and referenced" reinstall
step "helm uninstall after the reinstall leaves nothing of ours" uninstall

if [ "${SKIP_SKAFFOLD:-}" != 1 ]; then
	# Skaffold's global config in a throw-away HOME: no metrics, no update check, no survey.
	mkdir -p "$work/home/.skaffold"
	cat >"$work/home/.skaffold/config" <<-'EOF'
		global:
		  collect-metrics: false
		  update-check: false
		  survey:
		    disable-prompt: true
	EOF
	sk() { HOME=$work/home SKAFFOLD_UPDATE_CHECK=false SKAFFOLD_INTERACTIVE=false skaffold "$@"; }
	# Prebuilt images as a release pipeline would pass them: repository, tag and digest
	# (the skaffold config puts `tag@digest` into the chart's values).
	images=""
	for s in orders-service tracking-service notification-service; do
		images+="${images:+,}$s=ghcr.io/example/$s:0.1.0@sha256:$(printf '%s' "$s" | sha256sum | cut -c1-64)"
	done
	step "skaffold diagnose --yaml-only -p app-only" sk diagnose --yaml-only -p app-only
	skaffold_render() {
		# --digest-source=tag: take the references as given; offline, no registry is asked.
		sk render --offline -p app-only --images "$images" --digest-source=tag \
			--output "$work/skaffold-render.yaml" || return 1
		local n
		n=$(grep -c '^kind:' "$work/skaffold-render.yaml")
		grep -q "ghcr.io/example/orders-service:0.1.0@sha256:" "$work/skaffold-render.yaml" ||
			{ echo "the rendered manifests do not carry the prebuilt orders-service image"; return 1; }
		# skaffold.yaml's setValues reach the chart: the dev profiles run without an issuer.
		[ "$(grep -c "^ *AUTH_MODE: [\"']\?off[\"']\?\$" "$work/skaffold-render.yaml")" = 3 ] ||
			{ echo "want AUTH_MODE \"off\" in the three ConfigMaps (skaffold.yaml setValues auth.mode)"; return 1; }
		# What skaffold renders must be what the API server accepts, too.
		if ! kubectl apply --dry-run=server -n "$ns" -f "$work/skaffold-render.yaml" >"$work/apply.log" 2>&1; then
			grep -v '(server dry run)$' "$work/apply.log"
			return 1
		fi
		info "$n objects rendered with the prebuilt images, all accepted by kubectl apply --dry-run=server"
	}
	step "skaffold render --offline -p app-only" skaffold_render
	skaffold_deploy() {
		sk deploy -p app-only --images "$images" --status-check=true --kube-context testcluster || return 1
		deployments_available || return 1
		local img
		img=$(kubectl -n "$ns" get deployment "$release-orders-service" -o jsonpath='{.spec.template.spec.containers[0].image}')
		info "orders-service runs $img"
	}
	step "skaffold deploy --status-check -p app-only" skaffold_deploy
	step "helm uninstall after skaffold deploy leaves nothing of ours" uninstall
fi

summary cluster-test
