#!/usr/bin/env bash
# The dev loop (make dev): creates the kind cluster from k8s/kind-cluster.yaml
# when it does not exist, then runs `skaffold dev` with the kind profile, which
# builds the three images, loads them into kind, installs the infrastructure and
# the app, forwards the ports and rebuilds on every change. Before skaffold it
# creates the Secrets the releases read (hack/deploy.sh secrets).
#
# Needs docker, kubectl and skaffold (v2) on PATH; kind and helm are taken from
# PATH or built by hack/tools.sh. PROFILE=minikube uses the current minikube
# cluster instead; extra arguments go to skaffold.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"

profile=${PROFILE:-kind}
for t in docker kubectl skaffold; do
	command -v "$t" >/dev/null || {
		echo "hack/dev.sh: $t is not on PATH (see docs/deploy.md)" >&2
		exit 1
	}
done

bin=$(hack/tools.sh kind)
command -v helm >/dev/null || export PATH="$bin:$PATH"

if [ "$profile" = kind ]; then
	kind=$(command -v kind || echo "$bin/kind")
	cluster=$(awk '$1 == "name:" { print $2; exit }' k8s/kind-cluster.yaml)
	if ! "$kind" get clusters 2>/dev/null | grep -qx "$cluster"; then
		"$kind" create cluster --config k8s/kind-cluster.yaml --wait 120s
	fi
	kubectl config use-context "kind-$cluster" >/dev/null
fi

# The Secrets the PostgreSQL and Grafana releases read (random passwords,
# created once and kept, so a later `make dev` finds its database's users).
HELM=$(command -v helm) hack/deploy.sh secrets

exec skaffold dev -p "$profile" "$@"
