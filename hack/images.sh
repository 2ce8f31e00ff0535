#!/usr/bin/env bash
# images.sh: `make images`. Builds the three service images from the Dockerfile,
# unchanged, with podman (no Docker engine) and saves each as an OCI archive.
#
#   hack/images.sh          build what is missing; print the directory of the archives
#   hack/images.sh dir      print that directory (for the current inputs) without building
#
# No container registry is reachable here, so the two base images the Dockerfile
# names (its GO_IMAGE and RUNTIME_IMAGE defaults) are first assembled locally,
# under exactly those names, from Debian's packages and the Go module proxy:
#
#   golang:1.26-bookworm                     a Debian 12 root filesystem (debootstrap,
#       minbase with gcc, libc6-dev, make, pkg-config, ca-certificates) plus the
#       Go toolchain at the version go.work names (the module golang.org/toolchain,
#       checked against the checksum database like any module), with the
#       official image's GOPATH=/go, PATH, GOTOOLCHAIN=local and WORKDIR /go;
#   gcr.io/distroless/base-debian12:nonroot  what that image is made of: Debian 12's
#       base-files, netbase, tzdata, libc6 and libssl3 unpacked (no dpkg, no
#       shell), Debian's CA bundle, and the users root, nobody and nonroot
#       (65532), USER 65532 and WORKDIR /home/nonroot.
#
# Both come from the same debootstrap, so the glibc that cgo and the bundled
# librdkafka link against in the build stage is the one that runs them. Where a
# registry is reachable, the same Dockerfile pulls the real bases instead.
#
# The build's `go mod download` reaches the module proxy only through this
# machine's CA bundle (SSL_CERT_FILE, else /etc/ssl/certs/ca-certificates.crt):
# it is bind-mounted over the build stage's bundle for the RUN steps alone
# (`podman build -v`), so no layer keeps it. podman builds with
# `--isolation chroot` (no container runtime, no daemon) on the overlay storage
# driver: vfs copies every layer whole (29 GB for one image).
#
# Cached under IMAGES_CACHE (default ~/.cache/order-tracking/images):
#   storage/          podman's image store (overlay)
#   base-KEY.done     the bases were built from the recipe and Go version hashed in KEY
#   out-KEY/          the archives SERVICE.oci.tar for inputs hashed in KEY: the
#                     Dockerfile, .dockerignore, go.work, go.work.sum, every go.mod,
#                     go.sum and source file the build context holds, VERSION and the bases
# A warm run with unchanged inputs builds nothing. Needs root (podman's rootful
# store, debootstrap); installs podman and debootstrap with apt-get when missing.
#
# Settings: VERSION (stamped into the binaries and the image label; default dev,
# the Dockerfile's own), IMAGES_CACHE, SERVICES (default: all three).
set -Eeuo pipefail
# A command that fails where no die() speaks still says what failed.
trap 'printf "[images] error: line %s: %s failed\n" "$LINENO" "$BASH_COMMAND" >&2' ERR
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"

CACHE=${IMAGES_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/order-tracking/images}
STORE=$CACHE/storage
VERSION=${VERSION:-dev}
read -r -a SERVICES <<<"${SERVICES:-orders-service tracking-service notification-service}"
SUITE=bookworm
MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
CA_BUNDLE=${SSL_CERT_FILE:-/etc/ssl/certs/ca-certificates.crt}

log() { printf '[images %3ds] %s\n' "$SECONDS" "$*" >&2; }
die() { printf '[images] error: %s\n' "$*" >&2; exit 1; }

# podman with this script's own store: overlay, no systemd, no event log. The
# run root (locks, mounts: gone at reboot, as they should be) is one per store.
RUNROOT=/run/order-tracking-podman-$(printf '%s' "$STORE" | sha256sum | cut -c1-8)
pm() {
	podman --root "$STORE" --runroot "$RUNROOT" --storage-driver overlay \
		--cgroup-manager cgroupfs --events-backend none "$@"
}

# remove DIR...: removes a scratch tree that debootstrap may have left with
# /proc or /sys mounted in it (when cut off): those are unmounted first, and rm
# never crosses into another file system.
remove() {
	local d m
	for d in "$@"; do
		[ -e "$d" ] || continue
		findmnt -rno TARGET | { grep -F "$d/" || true; } | sort -r | while read -r m; do umount -l "$m" || true; done
		rm -rf --one-file-system "$d"
	done
}

# dockerfile_arg NAME: the default the Dockerfile gives ARG NAME.
dockerfile_arg() { sed -n "s/^ARG $1=//p" Dockerfile | head -n 1; }

# qualified NAME: the name Docker resolves NAME to (golang:x -> docker.io/library/golang:x).
qualified() {
	local first=${1%%/*}
	if [[ $1 != */* ]]; then
		echo "docker.io/library/$1"
	elif [[ $first == *.* || $first == *:* || $first == localhost ]]; then
		echo "$1"
	else
		echo "docker.io/$1"
	fi
}

# go_version: the toolchain go.work names (its toolchain line, else its go line).
go_version() {
	local v
	v=$(awk '$1 == "toolchain" { sub(/^go/, "", $2); print $2; exit }' go.work)
	[ -n "$v" ] || v=$(awk '$1 == "go" { print $2; exit }' go.work)
	[ -n "$v" ] || die "go.work names no Go version"
	echo "$v"
}

need_tools() {
	local missing=()
	command -v podman >/dev/null || missing+=(podman)
	command -v debootstrap >/dev/null || missing+=(debootstrap)
	[ ${#missing[@]} -eq 0 ] && return
	[ "$(id -u)" = 0 ] && command -v apt-get >/dev/null || die "need ${missing[*]}: sudo apt-get install -y ${missing[*]}"
	log "installing ${missing[*]} (Debian's packages)"
	export DEBIAN_FRONTEND=noninteractive
	{ apt-get install -y -qq --no-install-recommends "${missing[@]}" || { apt-get update -qq && apt-get install -y -qq --no-install-recommends "${missing[@]}"; }; } >"$CACHE/apt.log" 2>&1 ||
		die "cannot install ${missing[*]}"
}

# build_go_base ROOTFS NAME GOVERSION: the build stage's image, from the Debian
# root filesystem in ROOTFS plus the Go toolchain.
build_go_base() {
	local rootfs=$1 name=$2 gover=$3 tc dir
	tc=golang.org/toolchain@v0.0.1-go$gover.linux-amd64
	log "fetching Go $gover ($tc) from the Go module proxy"
	dir=$(GOFLAGS=-mod=mod GOWORK=off go mod download -json "$tc" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
	[ -d "$dir/bin" ] || die "cannot download $tc"
	rm -rf "$rootfs/usr/local/go"
	cp -a "$dir" "$rootfs/usr/local/go"
	chmod -R u+w "$rootfs/usr/local/go"
	# A module zip carries no file modes: the toolchain's programs come without
	# their execute bits.
	find "$rootfs/usr/local/go/bin" "$rootfs/usr/local/go/pkg/tool" -type f -exec chmod 0755 {} +
	mkdir -p "$rootfs/go/bin" "$rootfs/go/src"
	chmod -R 1777 "$rootfs/go"
	log "importing $name"
	tar -C "$rootfs" --numeric-owner -c . | pm import --quiet \
		--change 'ENV PATH=/go/bin:/usr/local/go/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
		--change "ENV GOLANG_VERSION=$gover" --change 'ENV GOTOOLCHAIN=local' --change 'ENV GOPATH=/go' \
		--change 'WORKDIR /go' --change 'CMD ["bash"]' - "$name" >/dev/null
}

# build_runtime_base DEBS NAME CA: the runtime stage's image: the Debian
# packages in DEBS unpacked (as distroless does: no maintainer scripts), CA
# as the certificate bundle, and distroless's users.
build_runtime_base() {
	local debs=$1 name=$2 ca=$3 r p deb
	r=$(mktemp -d "$CACHE/runtime.XXXXXX")
	mkdir -p "$r/var/lib/dpkg/status.d"
	for p in base-files netbase tzdata libc6 libssl3; do
		deb=$(find "$debs" -maxdepth 1 -name "${p}_*.deb" | head -n 1)
		[ -n "$deb" ] || die "debootstrap left no $p package in $debs"
		dpkg-deb -x "$deb" "$r"
		# What image scanners read to tell which packages an image holds.
		dpkg-deb -f "$deb" >"$r/var/lib/dpkg/status.d/$p"
	done
	# Documentation but the licences, and what only a package manager uses.
	find "$r/usr/share/doc" -type f ! -name copyright -delete
	rm -rf "$r/usr/share/man" "$r/usr/share/info" "$r/usr/share/lintian" "$r/usr/share/bug"
	mkdir -p "$r/etc/ssl/certs" "$r/tmp" "$r/root" "$r/home/nonroot"
	cp "$ca" "$r/etc/ssl/certs/ca-certificates.crt"
	cat >"$r/etc/passwd" <<-'EOF'
		root:x:0:0:root:/root:/sbin/nologin
		nobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin
		nonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin
	EOF
	cat >"$r/etc/group" <<-'EOF'
		root:x:0:
		nobody:x:65534:
		tty:x:5:
		staff:x:50:
		nonroot:x:65532:
	EOF
	printf 'hosts: files dns\nnetworks: files\n' >"$r/etc/nsswitch.conf"
	chmod 1777 "$r/tmp"
	chmod 0700 "$r/root" "$r/home/nonroot"
	chown 65532:65532 "$r/home/nonroot"
	log "importing $name"
	tar -C "$r" --numeric-owner -c . | pm import --quiet \
		--change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
		--change 'ENV SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt' \
		--change 'USER 65532' --change 'WORKDIR /home/nonroot' - "$name" >/dev/null
	rm -rf "$r"
}

# base_names: sets GO_NAME, RUNTIME_NAME, GO_VERSION and BASE_KEY, a hash of
# the recipe of the bases and what it is given.
base_names() {
	GO_NAME=$(qualified "$(dockerfile_arg GO_IMAGE)")
	RUNTIME_NAME=$(qualified "$(dockerfile_arg RUNTIME_IMAGE)")
	GO_VERSION=$(go_version)
	BASE_KEY=$({ declare -f bases build_go_base build_runtime_base; echo "$GO_NAME $RUNTIME_NAME $GO_VERSION $SUITE"; } | sha256sum | cut -c1-16)
}

# bases: both base images, built unless this recipe and Go version built them already.
bases() {
	local go_name=$GO_NAME runtime_name=$RUNTIME_NAME gover=$GO_VERSION key=$BASE_KEY rootfs
	if [ -f "$CACHE/base-$key.done" ] && pm image exists "$go_name" && pm image exists "$runtime_name"; then
		return
	fi
	local start=$SECONDS
	log "assembling $go_name and $runtime_name (Debian $SUITE, Go $gover)"
	rm -f "$CACHE"/base-*.done
	# What a run cut off left.
	remove "$CACHE"/rootfs.* "$CACHE"/runtime.* "$CACHE"/debs.*
	rootfs=$(mktemp -d "$CACHE/rootfs.XXXXXX")
	log "debootstrap $SUITE (about a minute)"
	debootstrap --variant=minbase --include=ca-certificates,gcc,libc6-dev,make,pkg-config,netbase,tzdata,libssl3 \
		"$SUITE" "$rootfs" "$MIRROR" >"$CACHE/debootstrap.log" 2>&1 ||
		{ tail -n 20 "$CACHE/debootstrap.log" >&2; remove "$rootfs"; die "debootstrap failed (log: $CACHE/debootstrap.log)"; }
	# The runtime takes its packages and Debian's CA bundle from this same
	# debootstrap: the glibc of both stages is one build.
	local debs
	debs=$(mktemp -d "$CACHE/debs.XXXXXX")
	mv "$rootfs"/var/cache/apt/archives/*.deb "$debs/"
	rm -rf "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/log/* "$rootfs"/tmp/*
	build_runtime_base "$debs" "$runtime_name" "$rootfs/etc/ssl/certs/ca-certificates.crt"
	build_go_base "$rootfs" "$go_name" "$gover"
	remove "$rootfs" "$debs"
	touch "$CACHE/base-$key.done"
	log "bases built in $((SECONDS - start))s"
}

# context_key: a hash of everything the images are made from.
context_key() {
	{
		echo "$BASE_KEY $VERSION ${SERVICES[*]}"
		# The build context as .dockerignore lets it in: its allow-list, without tests.
		find Dockerfile .dockerignore go.work go.work.sum hack/build.sh hack/e2e/go.mod hack/e2e/go.sum pkg services \
			-type f ! -name '*_test.go' ! -path '*/testdata/*' -print0 | LC_ALL=C sort -z | xargs -0 sha256sum
		declare -f build_images
	} | sha256sum | cut -c1-16
}

# build_images DIR: builds each service's image and saves it as DIR/SERVICE.oci.tar.
build_images() {
	local out=$1 s start
	[ -r "$CA_BUNDLE" ] || die "no CA bundle at $CA_BUNDLE (set SSL_CERT_FILE)"
	mkdir -p "$out.tmp"
	for s in "${SERVICES[@]}"; do
		start=$SECONDS
		log "podman build $s"
		pm build --isolation chroot --pull=never --layers \
			--volume "$CA_BUNDLE:/etc/ssl/certs/ca-certificates.crt:ro" \
			--build-arg "SERVICE=$s" --build-arg "VERSION=$VERSION" \
			-t "localhost/order-tracking/$s:$VERSION" -f Dockerfile . >"$out.tmp/$s.build.log" 2>&1 ||
			{ tail -n 30 "$out.tmp/$s.build.log" >&2; die "podman build $s failed (log: $out.tmp/$s.build.log)"; }
		pm save --quiet --format oci-archive -o "$out.tmp/$s.oci.tar" "localhost/order-tracking/$s:$VERSION" >/dev/null
		log "built $s in $((SECONDS - start))s"
	done
	rm -rf "$out" && mv "$out.tmp" "$out"
}

main() {
	mkdir -p "$CACHE"
	base_names
	if [ "${1:-}" = dir ]; then
		echo "$CACHE/out-$(context_key)"
		return
	fi
	[ $# -eq 0 ] || die "usage: hack/images.sh [dir]"
	[ "$(id -u)" = 0 ] || die "needs root (podman's rootful store, debootstrap)"
	need_tools
	exec 9>"$CACHE/.lock"
	flock 9
	bases
	local out
	out=$CACHE/out-$(context_key)
	if [ ! -d "$out" ]; then
		build_images "$out"
		# Older archives, and untagged images (replaced tags, build stages)
		# made over a day ago; newer build stages stay as build cache.
		find "$CACHE" -mindepth 1 -maxdepth 1 -type d -name 'out-*' ! -path "$out" -exec rm -rf {} +
		pm image prune -f --filter until=24h >/dev/null 2>&1 || true
	fi
	local s
	for s in "${SERVICES[@]}"; do
		printf '%-22s %s (%s)\n' "$s" "$out/$s.oci.tar" "$(du -h "$out/$s.oci.tar" | cut -f1)" >&2
	done
	echo "$out"
}

main "$@"
