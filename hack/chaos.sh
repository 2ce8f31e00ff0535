#!/usr/bin/env bash
# chaos.sh: make chaos (all faults) and make chaos-smoke (the subset make test runs).
#
#   hack/chaos.sh all|smoke|FAULT[,FAULT...]
#
# Runs TestChaos (hack/e2e/chaos_test.go, build tag chaos): it starts its own
# PostgreSQL, Redis and Kafka with hack/devenv.sh on ports 25432, 26379 and
# 29092 (state in .devenv/chaos/, stopped at the end), the services as
# processes, and injects the faults one at a time. docs/reliability.md says
# what each fault and column means. A run of every fault (all) that passes
# writes its table into docs/reliability.md, between the chaos-table markers.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
FAULTS=${1:-smoke}
DOC=$ROOT/docs/reliability.md
report=""
if [ "$FAULTS" = all ]; then
  report=$(mktemp)
  trap 'rm -f "$report"' EXIT
fi
cd "$ROOT/hack/e2e"
# The suite's own deadline: every fault with its hold and convergence, plus start-up.
CHAOS_FAULTS=$FAULTS CHAOS_REPORT=$report go test -tags chaos -count=1 -run '^TestChaos$' -timeout 40m -v . |
  grep -v '^=== \(RUN\|PAUSE\|CONT\|NAME\)'
if [ -n "$report" ] && [ -s "$report" ]; then
  stamp="Latest run: $(date -u +%Y-%m-%d), $(git -C "$ROOT" describe --always --dirty), $(nproc) cores."
  awk -v table="$report" -v stamp="$stamp" '
    /<!-- chaos-table:start -->/ { print; print stamp; print ""; while ((getline l < table) > 0) print l; skip = 1; next }
    /<!-- chaos-table:end -->/ { skip = 0 }
    !skip { print }' "$DOC" >"$DOC.new" && mv "$DOC.new" "$DOC"
  echo "chaos: wrote the table into docs/reliability.md"
fi
