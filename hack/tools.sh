#!/usr/bin/env bash
# Builds the pinned tools of hack/tools/go.mod (Helm, helm-unittest,
# kubeconform, kind and the schema and PromQL helpers in hack/tools/cmd) from the Go
# module proxy, once, into a cache keyed by the tools module's content, and
# prints the directory that holds them. Warm calls only hash a few files.
#
#   bin=$(hack/tools.sh)            the verification tools
#   bin=$(hack/tools.sh kind)       also kind (for `make dev`)
#   bin=$(hack/tools.sh promqlcheck) also the PromQL checker (hack/verify-monitoring.sh)
#
# TOOLS_CACHE moves the cache (default ~/.cache/order-tracking/tools).
# Helm and helm-unittest are stamped with Kubernetes 1.37 as their default
# cluster version, so `helm template` and the unit tests render for 1.37.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
tools=$root/hack/tools
cache=${TOOLS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/order-tracking/tools}

HELM_VERSION=$(awk '$1 == "helm.sh/helm/v3" { print $2 }' "$tools/go.mod")
UNITTEST_VERSION=$(awk '$1 == "github.com/helm-unittest/helm-unittest" { print $2 }' "$tools/go.mod")
KUBE_MINOR=37

key=$( (cat "$root/hack/tools.sh" "$tools/go.mod" "$tools/go.sum"; find "$tools/cmd" -type f -name '*.go' | LC_ALL=C sort | xargs cat; go env GOVERSION GOOS GOARCH) | sha256sum | cut -c1-16)
bin=$cache/$key/bin

want=(helm helm-unittest kubeconform kubeschema yamlschema)
want+=("$@")
pkgs=()
for t in "${want[@]}"; do
	[ -x "$bin/$t" ] && continue
	case $t in
	helm) pkgs+=(helm.sh/helm/v3/cmd/helm) ;;
	helm-unittest) pkgs+=(github.com/helm-unittest/helm-unittest/cmd/helm-unittest) ;;
	kubeconform) pkgs+=(github.com/yannh/kubeconform/cmd/kubeconform) ;;
	kind) pkgs+=(sigs.k8s.io/kind) ;;
	kubeschema | yamlschema | promqlcheck) pkgs+=("./cmd/$t") ;;
	*)
		echo "hack/tools.sh: unknown tool $t" >&2
		exit 2
		;;
	esac
done

if [ ${#pkgs[@]} -gt 0 ]; then
	echo "hack/tools.sh: building ${pkgs[*]} into $bin (first run only)" >&2
	# Tools built from an older tools module are of no further use.
	find "$cache" -mindepth 1 -maxdepth 1 -type d ! -name "$key" ! -name schemas -exec rm -rf {} + 2>/dev/null || true
	mkdir -p "$bin"
	ldflags="-s -w"
	ldflags+=" -X helm.sh/helm/v3/internal/version.version=$HELM_VERSION"
	for p in chartutil lint/rules; do
		ldflags+=" -X helm.sh/helm/v3/pkg/$p.k8sVersionMajor=1 -X helm.sh/helm/v3/pkg/$p.k8sVersionMinor=$KUBE_MINOR"
	done
	# One go build for all of them: they share most of their dependencies.
	(cd "$tools" && GOWORK=off GOFLAGS="-mod=readonly -buildvcs=false" CGO_ENABLED=0 go build -trimpath -ldflags "$ldflags" -o "$bin/" "${pkgs[@]}") >&2
fi

# helm-unittest as a Helm plugin (`helm unittest`), without its install hook,
# which would download a release binary.
plugin=$cache/$key/helm-plugins/unittest
if [ ! -f "$plugin/plugin.yaml" ]; then
	mkdir -p "$plugin"
	ln -sf "$bin/helm-unittest" "$plugin/untt"
	cat >"$plugin/plugin.yaml" <<PLUGIN
name: unittest
version: "${UNITTEST_VERSION#v}"
usage: unittest for helm charts
description: Unit test for helm charts (built by hack/tools.sh from the Go module proxy).
ignoreFlags: false
platformCommand:
  - command: \$HELM_PLUGIN_DIR/untt
PLUGIN
fi

echo "$bin"
