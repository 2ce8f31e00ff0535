# steps.sh: the check runner shared by hack/verify-*.sh. Source it after
# setting `work` (a scratch directory); then `step NAME COMMAND...` per check
# and `summary TITLE` at the end, which prints one line per check and the
# closing "N passed, N failed" line, and returns non-zero if any failed.

results=()
failed=0

# step NAME COMMAND...: runs a check, keeps its output, records the result.
# Progress is printed as it goes, with the check's `info` lines; a failing
# check's output is printed at once, so the cause sits beside its name.
step() {
	local name=$1
	shift
	local start=$SECONDS
	if "$@" >"$work/step.log" 2>&1; then
		results+=("$(printf 'ok    %-78s %4ss' "$name" $((SECONDS - start)))")
		echo "ok    $name"
		sed -n 's/^INFO: /      /p' "$work/step.log"
	else
		results+=("$(printf 'FAIL  %-78s %4ss' "$name" $((SECONDS - start)))")
		failed=$((failed + 1))
		echo "--- FAIL: $name" >&2
		sed 's/^/    /' "$work/step.log" >&2
	fi
}

# info MESSAGE: a line of a check's output worth showing even when it passes.
info() { echo "INFO: $*"; }

# summary TITLE: prints the results and fails if any check failed.
summary() {
	echo
	echo "== $1 summary"
	printf '%s\n' "${results[@]}"
	echo "$((${#results[@]} - failed)) passed, $failed failed"
	[ "$failed" -eq 0 ]
}
