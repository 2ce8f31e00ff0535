#!/usr/bin/env bash
# Installs (or removes) the platform into the current kubectl context with
# Helm: the infrastructure releases first (Strimzi operator, kube-prometheus-
# stack, PostgreSQL, Redis), then the order-tracking chart.
#
#   hack/deploy.sh up      install or upgrade everything   (make deploy)
#   hack/deploy.sh down    uninstall everything            (make undeploy)
#
# Environment:
#   NAMESPACE        the app's namespace, also PostgreSQL's and Redis' (order-tracking)
#   MONITORING       false skips kube-prometheus-stack (default true)
#   IMAGE_REGISTRY   registry of the service images, e.g. ghcr.io/acme (required for up
#                    unless VALUES sets image.registry)
#   IMAGE_TAG        tag of the service images (default: the chart's appVersion)
#   VALUES           extra values file for the app chart
#   AUTH_ISSUER_URL  OIDC issuer the services check bearer tokens against (auth.issuerURL);
#                    then AUTH_CLIENT_SECRET_NAME names the Secret, created beforehand in
#                    NAMESPACE, with the client-id and client-secret of tracking-service's
#                    OAuth 2.0 client (auth.clientCredentials.existingSecret)
#   AUTH             off: no access control, for a dev or test cluster only (auth.mode;
#                    not AUTH_MODE, which the services read and a shell may export for
#                    `make run`). One of AUTH_ISSUER_URL and AUTH=off is required unless
#                    VALUES sets auth.*: the chart refuses to install without a choice.
#   HELM             helm binary (default: the pinned one from hack/tools.sh)
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
KPS_VERSION=${KPS_VERSION:-77.5.0}
POSTGRESQL_CHART=oci://registry-1.docker.io/bitnamicharts/postgresql
POSTGRESQL_VERSION=${POSTGRESQL_VERSION:-16.7.27}
REDIS_CHART=oci://registry-1.docker.io/bitnamicharts/redis
REDIS_VERSION=${REDIS_VERSION:-22.0.7}

helm=${HELM:-$(hack/tools.sh)/helm}

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
	"$helm" template order-tracking charts/order-tracking -n "$NAMESPACE" "${args[@]}" >/dev/null || {
		echo "hack/deploy.sh: the app's values do not render (above). For access control set" >&2
		echo "AUTH_ISSUER_URL and AUTH_CLIENT_SECRET_NAME, or AUTH=off on a dev cluster, or VALUES=file." >&2
		exit 1
	}

	"$helm" upgrade --install strimzi "$STRIMZI_CHART" --version "$STRIMZI_VERSION" \
		-n kafka-operator --create-namespace -f k8s/strimzi-values.yaml --wait
	if [ "$MONITORING" = true ]; then
		"$helm" upgrade --install kube-prometheus-stack "$KPS_CHART" --version "$KPS_VERSION" \
			-n monitoring --create-namespace -f k8s/kube-prometheus-stack-values.yaml --wait --timeout 10m
	fi
	"$helm" upgrade --install postgresql "$POSTGRESQL_CHART" --version "$POSTGRESQL_VERSION" \
		-n "$NAMESPACE" --create-namespace -f k8s/postgresql-values.yaml --wait
	"$helm" upgrade --install redis "$REDIS_CHART" --version "$REDIS_VERSION" \
		-n "$NAMESPACE" -f k8s/redis-values.yaml --wait

	# Kafka comes up through Strimzi while the services wait on /readyz.
	"$helm" upgrade --install order-tracking charts/order-tracking \
		-n "$NAMESPACE" "${args[@]}" --wait --timeout 15m
	"$helm" test order-tracking -n "$NAMESPACE"
}

down() {
	"$helm" uninstall order-tracking -n "$NAMESPACE" --ignore-not-found --wait
	"$helm" uninstall redis postgresql -n "$NAMESPACE" --ignore-not-found --wait
	if [ "$MONITORING" = true ]; then
		"$helm" uninstall kube-prometheus-stack -n monitoring --ignore-not-found --wait
	fi
	"$helm" uninstall strimzi -n kafka-operator --ignore-not-found --wait
	echo "Left in place: the PersistentVolumeClaims of PostgreSQL, Redis and Kafka in namespace $NAMESPACE"
	echo "(kubectl -n $NAMESPACE delete pvc --all removes the data) and the CRDs of Strimzi and Prometheus."
}

case ${1:-} in
up) up ;;
down) down ;;
*)
	echo "usage: hack/deploy.sh up|down" >&2
	exit 2
	;;
esac
