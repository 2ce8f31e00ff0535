#!/usr/bin/env bash
# Builds service binaries exactly as the container image does: the Dockerfile
# and `make build` both call this script, so CI tests what the image ships.
#
#   hack/build.sh [SERVICE...]        build into $OUT_DIR (default bin/)
#
# SERVICE is orders-service, tracking-service or notification-service (all
# three when none is given). Environment:
#   VERSION     stamped into pkg/service (the traces' service.version; default: git describe, else "dev")
#   OUT_DIR     where the binaries go (default: bin)
#   GO_GCFLAGS  extra -gcflags, e.g. "all=-N -l" from skaffold debug; debug
#               builds keep their symbol tables (no -s -w) so a debugger works.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

all=(orders-service tracking-service notification-service)
services=("$@")
if [ ${#services[@]} -eq 0 ]; then
	services=("${all[@]}")
fi

version=${VERSION:-$(git describe --tags --always --dirty 2>/dev/null || echo dev)}
out_dir=${OUT_DIR:-bin}
ldflags="-X github.com/order-tracking/platform/pkg/service.stamp=${version}"
gcflags=()
if [ -n "${GO_GCFLAGS:-}" ]; then
	gcflags=(-gcflags "${GO_GCFLAGS}")
else
	ldflags="-s -w ${ldflags}"
fi

mkdir -p "$out_dir"
for s in "${services[@]}"; do
	case " ${all[*]} " in
	*" $s "*) ;;
	*)
		echo "hack/build.sh: unknown service \"$s\" (want one of: ${all[*]})" >&2
		exit 2
		;;
	esac
	echo "build $s ($version) -> $out_dir/$s"
	# cgo stays on: confluent-kafka-go links the librdkafka it bundles for glibc.
	CGO_ENABLED=1 go build -trimpath "${gcflags[@]}" -ldflags "$ldflags" -o "$out_dir/$s" "./services/$s"
done
