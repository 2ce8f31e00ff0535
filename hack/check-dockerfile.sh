#!/usr/bin/env bash
# Checks that the Dockerfile copies go.work, go.work.sum and the go.mod and
# go.sum of every module that go.work uses, and that .dockerignore lets them
# into the build context. A module added to go.work but not to the Dockerfile
# breaks every image build (workspace mode needs each used module's go.mod),
# so this runs in `make test`, long before anyone builds an image.
#
#   hack/check-dockerfile.sh [GO_WORK [DOCKERFILE [DOCKERIGNORE]]]
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
go_work=${1:-$root/go.work}
dockerfile=${2:-$root/Dockerfile}
dockerignore=${3:-$(dirname "$dockerfile")/.dockerignore}

# Module directories from go.work: both `use ./x` and `use ( ./x ./y )`.
modules=$(awk '
	/^[[:space:]]*\/\// { next }
	/^use[[:space:]]*\(/ { inblock = 1; next }
	inblock && /^\)/     { inblock = 0; next }
	inblock              { print $1; next }
	/^use[[:space:]]+/   { print $2 }
' "$go_work" | sed -e 's#^\./##' -e 's#/$##' | sort -u)
if [ -z "$modules" ]; then
	echo "FAIL $go_work: no modules found in its use directives" >&2
	exit 1
fi

# Every source path of every COPY line (without --from, i.e. from the context).
copied=$(awk '
	toupper($1) == "COPY" && $0 !~ /--from=/ {
		for (i = 2; i < NF; i++) if ($i !~ /^--/) print $i
	}
' "$dockerfile" | sed -e 's#^\./##' | sort -u)

failures=0
fail() {
	echo "FAIL $*" >&2
	failures=$((failures + 1))
}
has_copy() { grep -qxF "$1" <<<"$copied"; }

for f in go.work go.work.sum; do
	has_copy "$f" || fail "$dockerfile: no COPY of $f"
done
for m in $modules; do
	for f in go.mod go.sum; do
		has_copy "$m/$f" || fail "$dockerfile: module $m is in go.work but $m/$f is not copied before go mod download"
	done
done
# The reverse: a COPY of a go.mod whose module left go.work is stale.
for c in $(grep -E '/go\.mod$' <<<"$copied" || true); do
	m=${c%/go.mod}
	grep -qxF "$m" <<<"$modules" || fail "$dockerfile: copies $c but go.work does not use ./$m"
done
# .dockerignore is an allow-list; each copied module file must be let in.
if [ -f "$dockerignore" ]; then
	for m in $modules; do
		top=${m%%/*}
		grep -qxE "!($top|$m|$m/go\.mod)/?" "$dockerignore" ||
			fail "$dockerignore: $m/go.mod is excluded from the build context (add !$m/go.mod and !$m/go.sum)"
	done
fi

if [ "$failures" -gt 0 ]; then
	exit 1
fi
echo "ok   Dockerfile copies go.work, go.work.sum and all $(wc -w <<<"$modules") modules of go.work"
