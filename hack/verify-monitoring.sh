#!/usr/bin/env bash
# Verifies the monitoring that ships with the chart, offline (part of
# `make test`):
#   - the alert rules (charts/order-tracking/files/alerts.yaml) pass
#     promtool check rules, and their unit tests (hack/monitoring/
#     alerts_test.yaml: each alert firing and not firing) pass
#   - the local Prometheus config (hack/monitoring/prometheus.yml) and the original
#     system's (hack/monitoring/original-prometheus.yml) are valid
#   - every dashboard query and alert expression parses as PromQL and selects
#     only metrics the services expose (hack/monitoring/metrics.txt); every
#     alert has summary, description and a runbook_url naming a section of
#     docs/runbook.md (promqlcheck, from hack/tools)
#   - the chart's PrometheusRule renders files/alerts.yaml unchanged with the
#     default values, and with other thresholds renders rules promtool accepts
#     and the unit tests notice
# and prints a summary. promtool comes from Debian's prometheus package
# (hack/devenv.sh up installs it); helm and promqlcheck from hack/tools.sh.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"

chart=charts/order-tracking
rules=$chart/files/alerts.yaml
dashboards=("$chart"/files/dashboards/*.json)
tests=hack/monitoring/alerts_test.yaml

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# shellcheck source=lib/steps.sh
. "$root/hack/lib/steps.sh"

echo "== verify-monitoring: tools"
start=$SECONDS
command -v promtool >/dev/null || {
	echo "promtool not found: hack/devenv.sh up installs it (Debian's prometheus package)" >&2
	exit 1
}
bin=$(hack/tools.sh promqlcheck)
export HELM_CONFIG_HOME=$work/helm/config HELM_CACHE_HOME=$work/helm/cache HELM_DATA_HOME=$work/helm/data
echo "   $(promtool --version 2>&1 | head -1), $("$bin/helm" version --short), in $((SECONDS - start))s"

# render_rules OUT [HELM ARGS...]: the chart's PrometheusRule as a plain
# rules file (its spec, unindented). The defaults need an issuer to render
# at all; the rules do not depend on it.
render_rules() {
	local out=$1
	shift
	"$bin/helm" template order-tracking "$chart" --namespace order-tracking \
		--api-versions monitoring.coreos.com/v1 --show-only templates/prometheusrule.yaml \
		--set auth.issuerURL=https://issuer.example.com "$@" >"$work/rule.yaml"
	sed -n '/^spec:$/,$p' "$work/rule.yaml" | sed '1d; s/^  //' >"$out"
	[ -s "$out" ] || { echo "no spec in the rendered PrometheusRule"; return 1; }
}
# test_rules RULES: the unit tests of $tests, run against another rules file.
test_rules() {
	sed "s#^  - \.\./\.\./$rules\$#  - $1#" "$tests" >"$work/tests.yaml"
	grep -qF "  - $1" "$work/tests.yaml" || { echo "cannot point $tests at $1"; return 1; }
	promtool test rules "$work/tests.yaml"
}

echo "== verify-monitoring: checks"
step "promtool check rules ($rules)" promtool check rules "$rules"
step "promtool test rules ($tests)" promtool test rules "$tests"
step "promtool check config (hack/monitoring/prometheus.yml)" promtool check config hack/monitoring/prometheus.yml
step "promtool check config (hack/monitoring/original-prometheus.yml, the original system's)" promtool check config hack/monitoring/original-prometheus.yml
step "PromQL of dashboards and alerts parses, uses exposed metrics, links the runbook" \
	"$bin/promqlcheck" -metrics hack/monitoring/metrics.txt -runbook docs/runbook.md "${dashboards[@]}" "$rules"
# The check must catch a metric nobody exposes and a query that does not parse.
negative_check() {
	cat >"$work/bad.json" <<'JSON'
{"panels": [{"title": "t", "targets": [
  {"refId": "A", "expr": "rate(orders_deleted_total[$__rate_interval])"},
  {"refId": "B", "expr": "sum(rate(orders_created_total[5m])"}]}]}
JSON
	if "$bin/promqlcheck" -metrics hack/monitoring/metrics.txt "$work/bad.json" 2>"$work/bad.log"; then
		echo "promqlcheck passed a dashboard with an unknown metric and a syntax error"
		return 1
	fi
	if ! grep -q orders_deleted_total "$work/bad.log" || ! grep -q 'does not parse' "$work/bad.log"; then
		cat "$work/bad.log"
		return 1
	fi
}
step "promqlcheck fails for an unknown metric and a syntax error" negative_check
step "promqlcheck unit tests (hack/tools/cmd/promqlcheck)" \
	bash -c 'cd hack/tools && GOWORK=off GOFLAGS=-mod=readonly go test ./cmd/promqlcheck'

defaults_check() {
	render_rules "$work/default-rules.yaml" && diff -u "$rules" "$work/default-rules.yaml"
}
step "chart's PrometheusRule with default values is $rules" defaults_check
cat >"$work/thresholds.yaml" <<'YAML'
monitoring:
  prometheusRule:
    thresholds: {errorRatio: 0.5, latencyP99Seconds: 2.5, consumerLag: 1000, outboxAgeSeconds: 600, deadLetters: 3}
YAML
other_check() {
	render_rules "$work/other-rules.yaml" -f "$work/thresholds.yaml" && promtool check rules "$work/other-rules.yaml"
}
step "chart's PrometheusRule with other thresholds passes promtool check rules" other_check
# Raised thresholds must reach the expressions: the firing tests then fail.
raised_check() {
	if test_rules "$work/other-rules.yaml" >"$work/raised.log" 2>&1; then
		echo "the unit tests pass against rules rendered with raised thresholds"
		return 1
	fi
	grep -q OrderTrackingHigh5xxRatio "$work/raised.log" || { cat "$work/raised.log"; return 1; }
}
step "rule unit tests fail against the chart's rules with raised thresholds" raised_check

summary verify-monitoring
