#!/usr/bin/env bash
# Installs (or removes) the platform into the current kubectl context with
# Helm: the infrastructure releases first (Strimzi operator, kube-prometheus-
# stack, PostgreSQL, Redis), then the order-tracking chart.
#
#   hack/deploy.sh up       install or upgrade everything   (make deploy)
#   hack/deploy.sh down     uninstall everything            (make undeploy)
#   hack/deploy.sh secrets  only create the Secrets below when missing (up does it
#                           first; hack/dev.sh too, before skaffold)
#
# The Secrets the releases read and no release owns, created once with random
# values and kept by `down`, so that a reinstall over the kept volumes logs in
# with the same passwords:
#   NAMESPACE/postgresql-credentials  postgres-password, orders-password,
#       notifications-password: PostgreSQL's admin and the two services' users
#       (the Bitnami release's auth.existingSecret and the app chart's
#       postgresql.existingSecret)
#   monitoring/grafana-admin          admin-user, admin-password: Grafana's login
#       (kube-prometheus-stack's grafana.admin.existingSecret; with MONITORING=true)
#
# Environment:
#   NAMESPACE        the app's namespace, also PostgreSQL's and Redis' (order-tracking)
#   MONITORING       false skips kube-prometheus-stack (default true)
#   IMAGE_REGISTRY   registry of the service images, e.g. ghcr.io/acme (required for up
#                    unless VALUES sets image.registry)
#   IMAGE_TAG        tag of the service images (default: the chart's appVersion)
#   VALUES           extra values file for the app chart
#   AUTH_ISSUER_URL  OIDC issuer the services check bearer tokens against (auth.issuerURL).
#                    tracking-service then reads its OAuth 2.0 client (keys client-id and
#                    client-secret) from a Secret that you create beforehand in NAMESPACE:
#                    by default order-tracking-oidc-client (the chart's <fullname>-oidc-client);
#                    `up` checks that it exists before installing anything
#   AUTH_CLIENT_SECRET_NAME  optional: another name for that Secret
#                    (auth.clientCredentials.existingSecret)
#   AUTH             off: no access control, for a dev or test cluster only (auth.mode;
#                    not AUTH_MODE, which the services read and a shell may export for
#                    `make run`). One of AUTH_ISSUER_URL and AUTH=off is required unless
#                    VALUES sets auth.*: the chart refuses to install without a choice.
#   HELM             helm binary (default: the pinned one from hack/tools.sh)
#   KUBECTL          kubectl binary, for the Secrets and the Kafka volumes (default kubectl)
#   KEEP_KAFKA_VOLUMES  1: `down` keeps Kafka's PersistentVolumeClaims. By default it
#                    deletes them: a reinstalled Kafka cluster gets a new cluster id and its
#                    brokers refuse a volume formatted for the old one
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"

NAMESPACE=${NAMESPACE:-order-tracking}
MONITORING=${MONITORING:-true}
# The infrastructure charts, pinned. The Bitnami versions are from before the
# move of versioned images to bitnamilegacy, so the tags they name exist there.
STRIMZI_CHART=oci://quay.io/strimzi-helm/strimzi-kafka-operator
STRIMZI_VERSION=1.2.0
KPS_CHART=oci://ghcr.io/prometheus-community/charts/kube-prometheus-stack
KPS_VERSION=${KPS_VERSION:-88.0.0}
# The prometheus-operator that KPS_VERSION ships (its appVersion): the chart's
# ServiceMonitors and PrometheusRule are validated against this version's CRDs,
# as the Kafka objects are against STRIMZI_VERSION's (make verify-deploy
# checks that both match the CRDs in CRDS_DIR and skaffold.yaml's pins).
# shellcheck disable=SC2034 # read by hack/verify-deploy.sh
PROMETHEUS_OPERATOR_VERSION=v0.93.0
POSTGRESQL_CHART=oci://registry-1.docker.io/bitnamicharts/postgresql
POSTGRESQL_VERSION=${POSTGRESQL_VERSION:-16.7.27}
REDIS_CHART=oci://registry-1.docker.io/bitnamicharts/redis
REDIS_VERSION=${REDIS_VERSION:-22.0.7}

helm=${HELM:-$(hack/tools.sh)/helm}
kubectl=${KUBECTL:-kubectl}

# random_password: 32 letters and digits.
random_password() {
	local p
	p=$(head -c 96 /dev/urandom | base64 | tr -dc 'A-Za-z0-9')
	echo "${p:0:32}"
}

# ensure_secret NAMESPACE NAME KEY[=VALUE]...: creates the Secret with a random
# value for each KEY (or VALUE) unless it exists; an existing one must hold every
# KEY and is never changed. The values go through stdin, never a command line.
ensure_secret() {
	local ns=$1 name=$2 found kv key missing=()
	shift 2
	"$kubectl" get namespace "$ns" >/dev/null 2>&1 || "$kubectl" create namespace "$ns" >/dev/null
	# shellcheck disable=SC2016 # a Go template, not shell
	found=$("$kubectl" -n "$ns" get secret "$name" --ignore-not-found -o go-template='{{range $k, $v := .data}}{{$k}} {{end}}')
	if [ -n "$found" ]; then
		for kv in "$@"; do
			key=${kv%%=*}
			case " $found " in *" $key "*) ;; *) missing+=("$key") ;; esac
		done
		[ ${#missing[@]} -eq 0 ] || {
			echo "hack/deploy.sh: Secret $ns/$name exists without key(s) ${missing[*]}; add them or delete it (with its volume)" >&2
			exit 1
		}
		echo "Secret $ns/$name exists: kept"
		return 0
	fi
	{
		printf 'apiVersion: v1\nkind: Secret\nmetadata:\n  name: %s\n  namespace: %s\n' "$name" "$ns"
		printf '  labels:\n    app.kubernetes.io/part-of: order-tracking\n    app.kubernetes.io/managed-by: hack-deploy\n'
		printf 'type: Opaque\nstringData:\n'
		for kv in "$@"; do
			if [ "$kv" = "${kv#*=}" ]; then
				printf '  %s: %s\n' "$kv" "$(random_password)"
			else
				printf '  %s: %s\n' "${kv%%=*}" "${kv#*=}"
			fi
		done
	} | "$kubectl" create -f - >/dev/null
	echo "Secret $ns/$name created (random values; kept by hack/deploy.sh down)"
}

secrets() {
	ensure_secret "$NAMESPACE" postgresql-credentials postgres-password orders-password notifications-password
	if [ "$MONITORING" = true ]; then
		ensure_secret monitoring grafana-admin admin-user=admin admin-password
	fi
}

up() {
	args=()
	[ -n "${IMAGE_REGISTRY:-}" ] && args+=(--set "image.registry=$IMAGE_REGISTRY")
	[ -n "${IMAGE_TAG:-}" ] && args+=(--set "image.tag=$IMAGE_TAG")
	[ -n "${AUTH:-}" ] && args+=(--set "auth.mode=$AUTH")
	[ -n "${AUTH_ISSUER_URL:-}" ] && args+=(--set "auth.issuerURL=$AUTH_ISSUER_URL")
	[ -n "${AUTH_CLIENT_SECRET_NAME:-}" ] && args+=(--set "auth.clientCredentials.existingSecret=$AUTH_CLIENT_SECRET_NAME")
	[ -n "${VALUES:-}" ] && args+=(-f "$VALUES")
	# The app's values are checked first, so that a missing setting (the
	# OIDC issuer above all) fails in seconds, not after the infrastructure.
	local rendered
	rendered=$(mktemp)
	"$helm" template order-tracking charts/order-tracking -n "$NAMESPACE" "${args[@]}" >"$rendered" || {
		rm -f "$rendered"
		echo "hack/deploy.sh: the app's values do not render (above). For access control set" >&2
		echo "AUTH_ISSUER_URL (AUTH_CLIENT_SECRET_NAME optional), or AUTH=off on a dev cluster, or VALUES=file." >&2
		exit 1
	}
	check_client_secret "$rendered"
	rm -f "$rendered"
	secrets

	"$helm" upgrade --install strimzi "$STRIMZI_CHART" --version "$STRIMZI_VERSION" \
		-n kafka-operator --create-namespace -f k8s/strimzi-values.yaml --wait
	if [ "$MONITORING" = true ]; then
		"$helm" upgrade --install kube-prometheus-stack "$KPS_CHART" --version "$KPS_VERSION" \
			-n monitoring --create-namespace -f k8s/kube-prometheus-stack-values.yaml --wait --timeout 10m
	fi
	"$helm" upgrade --install postgresql "$POSTGRESQL_CHART" --version "$POSTGRESQL_VERSION" \
		-n "$NAMESPACE" --create-namespace -f k8s/postgresql-values.yaml --wait --timeout 10m
	"$helm" upgrade --install redis "$REDIS_CHART" --version "$REDIS_VERSION" \
		-n "$NAMESPACE" -f k8s/redis-values.yaml --wait --timeout 10m

	# Kafka comes up through Strimzi while the services wait on /readyz.
	"$helm" upgrade --install order-tracking charts/order-tracking \
		-n "$NAMESPACE" "${args[@]}" --wait --timeout 15m
	"$helm" test order-tracking -n "$NAMESPACE"
}

# check_client_secret RENDERED: with auth.mode=jwt tracking-service reads its
# OAuth 2.0 client from a Secret the operator creates; without it the pod stays
# un-started (CreateContainerConfigError) and `helm upgrade --wait` would only
# time out. Fail now, with the command that creates it.
check_client_secret() {
	local secret id_key secret_key found
	# The secretKeyRef (name, key) after OIDC_CLIENT_ID, then after OIDC_CLIENT_SECRET.
	read -r secret id_key secret_key < <(awk '
		/- name: OIDC_CLIENT_(ID|SECRET)$/ { env = $3; next }
		env != "" && /^ *name: / { name = $2 }
		env != "" && /^ *key: / { if (env == "OIDC_CLIENT_ID") { id = $2 } else { sec = $2 }; env = "" }
		END { if (name != "") print name, id, sec }' "$1") || true
	[ -n "${secret:-}" ] || return 0
	if ! found=$("$kubectl" -n "$NAMESPACE" get secret "$secret" --ignore-not-found -o name); then
		echo "hack/deploy.sh: could not check (above) that the Secret $secret exists in namespace" >&2
		echo "$NAMESPACE; tracking-service stays un-started (CreateContainerConfigError) until it does." >&2
		return 0
	fi
	[ -z "$found" ] || return 0
	echo "hack/deploy.sh: tracking-service reads its OAuth 2.0 client from the Secret $secret in" >&2
	echo "namespace $NAMESPACE, which does not exist (the chart never creates it; without it" >&2
	echo "tracking-service stays un-started: CreateContainerConfigError). Create it, then retry:" >&2
	echo "  kubectl create namespace $NAMESPACE   # if it does not exist yet" >&2
	echo "  kubectl -n $NAMESPACE create secret generic $secret --from-literal=$id_key=... --from-literal=$secret_key=..." >&2
	exit 1
}

down() {
	"$helm" uninstall order-tracking -n "$NAMESPACE" --ignore-not-found --wait
	"$helm" uninstall redis postgresql -n "$NAMESPACE" --ignore-not-found --wait
	if [ "$MONITORING" = true ]; then
		"$helm" uninstall kube-prometheus-stack -n monitoring --ignore-not-found --wait
	fi
	"$helm" uninstall strimzi -n kafka-operator --ignore-not-found --wait
	# A new Kafka cluster cannot use the old one's volumes (another cluster id).
	if [ "${KEEP_KAFKA_VOLUMES:-}" != 1 ]; then
		"$kubectl" -n "$NAMESPACE" delete pvc -l strimzi.io/kind=Kafka --ignore-not-found --timeout 5m
	fi
	echo "Left in place: the PersistentVolumeClaims of PostgreSQL and Redis in namespace $NAMESPACE"
	echo "(kubectl -n $NAMESPACE delete pvc --all removes the data), the Secrets $NAMESPACE/postgresql-credentials"
	echo "and monitoring/grafana-admin (PostgreSQL's volume needs the same passwords), the client Secret"
	echo "and the CRDs of Strimzi and Prometheus."
}

case ${1:-} in
up) up ;;
down) down ;;
secrets) secrets ;;
*)
	echo "usage: hack/deploy.sh up|down|secrets" >&2
	exit 2
	;;
esac
