#!/usr/bin/env bash
# Verifies everything that deploys the platform, offline and without a
# cluster or container runtime (part of `make test`):
#   - hack/build.sh and the Dockerfile agree with go.work (every module copied)
#   - helm lint --strict and helm template of charts/order-tracking for the
#     default values with only an OIDC issuer set (auth.issuerURL), and every
#     charts/order-tracking/ci/*.yaml; the default values alone must fail, naming
#     auth.issuerURL and auth.mode=off; with only the issuer, tracking-service must
#     read its OAuth 2.0 client from the default Secret <fullname>-oidc-client,
#     which the chart must not render
#   - every rendered object validated strictly (kubeconform -strict) against
#     the Kubernetes 1.37 OpenAPI schema and the Strimzi, prometheus-operator
#     and Gateway API CRDs
#   - the chart's helm-unittest suites
#   - skaffold.yaml against the skaffold v4beta14 JSON schema
#   - the CRDs in CRDS_DIR are those of the Strimzi and prometheus-operator
#     versions hack/deploy.sh installs, and skaffold.yaml pins the same charts
#   - every helm install of a remote chart in docs/ and k8s/*.yaml headers
#     carries --version
#   - the k8s/ values files parse, the hack/ scripts parse
# and prints a summary. The tools come from hack/tools.sh (built once, cached).
#
# Environment:
#   CRDS_DIR          Strimzi 1.2.0 and prometheus-operator v0.93.0 CRDs (default ../shared/crds)
#   SKAFFOLD_SCHEMA   skaffold v4beta14 schema (default ../shared/schemas/skaffold-v4beta14.json)
#   KUBE_VERSION      Kubernetes version to render and validate for (default 1.37.2)
#   GATEWAY_API       sigs.k8s.io/gateway-api module version for the HTTPRoute CRD (default v1.5.1)
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"

KUBE_VERSION=${KUBE_VERSION:-1.37.2}
GATEWAY_API=${GATEWAY_API:-v1.5.1}
CRDS_DIR=${CRDS_DIR:-$root/../shared/crds}
SKAFFOLD_SCHEMA=${SKAFFOLD_SCHEMA:-$root/../shared/schemas/skaffold-v4beta14.json}
chart=charts/order-tracking
cache=${TOOLS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/order-tracking/tools}

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# shellcheck source=lib/steps.sh
. "$root/hack/lib/steps.sh"

echo "== verify-deploy: tools"
start=$SECONDS
bin=$(hack/tools.sh)
export HELM_PLUGINS
HELM_PLUGINS=$(dirname "$bin")/helm-plugins
export HELM_CONFIG_HOME=$work/helm/config HELM_CACHE_HOME=$work/helm/cache HELM_DATA_HOME=$work/helm/data
helm=$bin/helm
echo "   $("$helm" version --short), kubeconform $("$bin/kubeconform" -v), in $((SECONDS - start))s"

# module_dir MODULE@VERSION: where the Go module proxy's copy is unpacked.
module_dir() {
	(cd "$work" && GOWORK=off GOFLAGS=-mod=mod go mod download -json "$1") |
		awk -F'"' '$2 == "Dir" { print $4 }'
}

echo "== verify-deploy: schemas for Kubernetes $KUBE_VERSION and the CRDs"
start=$SECONDS
if [ ! -d "$CRDS_DIR" ]; then
	echo "CRDS_DIR=$CRDS_DIR does not exist: point it at the Strimzi 1.2.0 and prometheus-operator v0.93.0 CRDs" >&2
	exit 1
fi
k8s_dir=$(module_dir "k8s.io/kubernetes@v$KUBE_VERSION")
gw_dir=$(module_dir "sigs.k8s.io/gateway-api@$GATEWAY_API")
swagger=$k8s_dir/api/openapi-spec/swagger.json
crds=("$CRDS_DIR"/*.yaml "$gw_dir/config/crd/standard/gateway.networking.k8s.io_httproutes.yaml")
schema_key=$( (echo "$KUBE_VERSION $GATEWAY_API"; cat "${crds[@]}"; sha256sum "$bin/kubeschema") | sha256sum | cut -c1-16)
schemas=$cache/schemas/$schema_key
if [ ! -f "$schemas/.done" ]; then
	rm -rf "$cache/schemas"
	"$bin/kubeschema" -out "$schemas" -openapi "$swagger" "${crds[@]}"
	touch "$schemas/.done"
fi
echo "   $(find "$schemas" -name '*.json' | wc -l) schemas in $((SECONDS - start))s"

echo "== verify-deploy: checks"
step "Dockerfile copies every go.work module" hack/check-dockerfile.sh
# The check must catch a module added to go.work and not to the Dockerfile.
negative_check() {
	sed 's#^\([[:space:]]*\)\./pkg$#&\n\1./services/new-service#' go.work >"$work/go.work"
	grep -q new-service "$work/go.work" || { echo "could not add a module to a copy of go.work"; return 1; }
	if hack/check-dockerfile.sh "$work/go.work" Dockerfile .dockerignore; then
		echo "check-dockerfile.sh passed although go.work has a module the Dockerfile does not copy"
		return 1
	fi
}
step "Dockerfile check fails for a module missing from COPY" negative_check
# shellcheck disable=SC2016 # expanded by the inner bash
step "hack/*.sh parse (bash -n)" bash -c 'for f in hack/*.sh; do bash -n "$f" || exit 1; done'

kubeconform() {
	"$bin/kubeconform" -strict -summary -output text \
		-kubernetes-version "$KUBE_VERSION" \
		-schema-location "$schemas/{{.Group}}/{{.ResourceKind}}_{{.ResourceAPIVersion}}.json" "$@"
}
# render NAME [-f VALUES] [--set KEY=VALUE] [--api-versions API]: lint, template
# and validate one set of values (helm lint takes no --api-versions).
render() {
	local name=$1
	shift
	local values=() apis=()
	while [ $# -gt 0 ]; do
		case $1 in
		-f | --set) values+=("$1" "$2") ;;
		--api-versions) apis+=(--api-versions "$2") ;;
		esac
		shift 2
	done
	local out=$work/rendered-${name//\//-}.yaml
	step "helm lint --strict ($name)" "$helm" lint --strict --kube-version "$KUBE_VERSION" "$chart" "${values[@]}"
	step "helm template ($name)" template_to "$out" "${values[@]}" "${apis[@]}"
	if [ -s "$out" ]; then
		step "kubeconform -strict ($name: $(grep -c '^kind:' "$out") objects)" kubeconform "$out"
	fi
}
template_to() {
	local out=$1
	shift
	"$helm" template order-tracking "$chart" --namespace order-tracking --kube-version "$KUBE_VERSION" "$@" >"$out"
}
# The defaults require an OIDC issuer (auth.mode=jwt): they must refuse to
# render, with a message that names both ways out.
defaults_refused() {
	if template_to "$work/defaults.yaml" 2>"$work/defaults.err"; then
		echo "helm template rendered the default values; want a failure asking for auth.issuerURL"
		return 1
	fi
	local want='auth.issuerURL is required: set auth.issuerURL to your OIDC issuer, or set auth.mode=off explicitly to run without authentication'
	grep -qF "$want" "$work/defaults.err" || {
		echo "helm template failed without the expected message ($want):"
		cat "$work/defaults.err"
		return 1
	}
}
step "helm template (defaults) fails: auth.issuerURL or auth.mode=off required" defaults_refused
# An issuer is all the defaults need: tracking-service's client Secret then has
# its default name, and the operator creates it.
issuer=(--set auth.issuerURL=https://issuer.example.com)
render "defaults + only auth.issuerURL" "${issuer[@]}"
render "defaults + only auth.issuerURL, cluster with the Prometheus operator" "${issuer[@]}" --api-versions monitoring.coreos.com/v1
# tracking-service's OIDC_CLIENT_ID and OIDC_CLIENT_SECRET come from the Secret
# order-tracking-oidc-client (the fullname of release order-tracking), which no
# rendered object is.
default_client_secret() {
	local out=$work/issuer-only.yaml want=order-tracking-oidc-client refs
	template_to "$out" "${issuer[@]}" || return 1
	# "Kind/name ENV secret" for every env entry OIDC_CLIENT_* (the name after
	# it is its secretKeyRef's).
	refs=$(awk '/^kind: /{kind=$2; name=""} /^  name: / && name == "" {name=kind "/" $2}
		/- name: OIDC_CLIENT_/{env=$3; n=NR}
		env != "" && NR > n && /^ *name: /{print name, env, $2; env=""}' "$out")
	info "$(echo "$refs" | paste -sd';' -)"
	[ "$refs" = "Deployment/order-tracking-tracking-service OIDC_CLIENT_ID $want
Deployment/order-tracking-tracking-service OIDC_CLIENT_SECRET $want" ] ||
		{ echo "want tracking-service's OIDC_CLIENT_ID and OIDC_CLIENT_SECRET from Secret $want, and no other object with them; got: ${refs:-none}"; return 1; }
	if grep -q '^kind: Secret$' "$out"; then
		echo "the chart renders a Secret; the operator creates the client's"
		return 1
	fi
}
step "defaults + only auth.issuerURL: tracking-service's client from Secret order-tracking-oidc-client (not rendered)" default_client_secret
render "defaults + auth.mode=off" --set auth.mode=off
for f in "$chart"/ci/*.yaml; do
	render "ci/$(basename "$f")" -f "$f"
done
# Run from the chart so the suites' relative values paths (../ci/...) resolve.
# shellcheck disable=SC2016 # expanded by the inner bash
step "helm unittest (charts/order-tracking/tests)" bash -c 'cd "$1" && "$0" unittest --strict .' "$helm" "$chart"
step "skaffold.yaml matches skaffold/v4beta14" "$bin/yamlschema" -schema "$SKAFFOLD_SCHEMA" skaffold.yaml
# The CRDs the chart is validated against are the ones of the operators the
# deploy installs (hack/deploy.sh), and skaffold.yaml pins the same charts.
# pin NAME: the value hack/deploy.sh gives NAME (its default when the
# environment may override it: NAME=${NAME:-default}).
pin() {
	sed -n "s/^$1=//p" hack/deploy.sh | sed 's/^[$]{[A-Z_]*:-\(.*\)}$/\1/'
}
pins_match() {
	local strimzi promop f name problems=()
	strimzi=$(pin STRIMZI_VERSION)
	promop=$(pin PROMETHEUS_OPERATOR_VERSION)
	for f in "$CRDS_DIR"/*.yaml; do
		name=$(basename "$f")
		case $name in
		"strimzi-$strimzi-"* | "prometheus-operator-$promop-"*) ;;
		*) problems+=("$name: not Strimzi $strimzi's nor prometheus-operator $promop's (hack/deploy.sh)") ;;
		esac
	done
	# "chart version" of each remote release in skaffold.yaml, then hack/deploy.sh's.
	local want got
	got=$(awk '/remoteChart:/ { chart = $2 } /^ *version:/ && chart != "" { print chart, $2; chart = "" }' skaffold.yaml | LC_ALL=C sort)
	want=$(for v in STRIMZI KPS POSTGRESQL REDIS; do
		echo "$(pin "${v}_CHART") $(pin "${v}_VERSION")"
	done | LC_ALL=C sort)
	[ "$got" = "$want" ] || problems+=("skaffold.yaml pins $(echo "$got" | paste -sd';' -), hack/deploy.sh $(echo "$want" | paste -sd';' -)")
	info "Strimzi $strimzi, prometheus-operator $promop; $(echo "$want" | awk '{print $2}' | paste -sd' ' -)"
	[ ${#problems[@]} -eq 0 ] || { printf '%s\n' "${problems[@]}"; return 1; }
}
step "CRDs and skaffold.yaml match the versions hack/deploy.sh installs" pins_match
# Every `helm install` or `helm upgrade --install` of a remote chart (an
# oci:// or http(s):// reference; the repository's own chart is a path)
# written down for a person (docs/, the k8s/*.yaml headers) names its --version.
install_lines_pinned() {
	local unpinned
	unpinned=$(awk '{ sub(/^# ?/, "") } /\\$/ { line = line substr($0, 1, length($0) - 1); next }
		{ line = line $0; if (line ~ /helm (upgrade --install|install) [^ ]+ +(oci|https?):\/\// && line !~ /--version/) print FILENAME ": " line; line = "" }' docs/*.md k8s/*.yaml)
	[ -z "$unpinned" ] || { echo "without --version:"; echo "$unpinned"; return 1; }
}
step "helm install lines in docs/ and k8s/ carry --version" install_lines_pinned
echo '{"type": "object"}' >"$work/object.json"
step "k8s/*.yaml parse" "$bin/yamlschema" -schema "$work/object.json" k8s/*.yaml

summary verify-deploy
