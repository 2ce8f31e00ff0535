#!/usr/bin/env bash
# image-test.sh: `make image-test`. Runs what `make images` built, as a container
# runtime would, without one (`podman run` cannot start containers on these
# machines):
#
#   1. hack/images.sh (builds nothing when its cache is warm) gives the three OCI
#      archives; each image's layers are unpacked into a root filesystem and its
#      config read: Entrypoint, Cmd, User, Env, WorkingDir;
#   2. the image's top layer (the Dockerfile's COPY --from=build) holds the
#      entrypoint alone; each entrypoint's ELF interpreter and every library it needs must be in
#      its image: the image's own loader lists them (`ld.so --list`), and a
#      library it cannot find fails the test;
#   3. each image's size is printed: the archive (compressed layers, what a
#      registry stores and a node pulls) and the unpacked filesystem, against the
#      goal of 60 MB;
#   4. each entrypoint runs chrooted into its filesystem, as its image's USER,
#      with its image's Env (plus HOME and HOSTNAME, as a runtime adds, and the
#      service's settings), in fresh PID, mount, UTS and IPC namespaces
#      (`unshare`) with a /proc, /dev and /etc/hosts of its own; the network
#      namespace is the host's, so it reaches the local PostgreSQL, Redis and
#      Kafka (hack/devenv.sh up) on loopback. The test checks the process's
#      real user, group and root directory, then that each service answers
#      /readyz 200;
#   5. orders-service and notification-service log in to PostgreSQL as roles of
#      their own whose password has every character a URL cannot hold unescaped
#      (@ : / ? # %), given apart in DATABASE_PASSWORD as the chart gives it, in
#      the devenv's database password_auth, which checks passwords; each
#      migrates a schema of its own there;
#   6. one order goes through the three images' binaries: created and moved to
#      SHIPPED on orders-service, seen SHIPPED on tracking-service's
#      GET /track/{id}, and its two notifications (the email for the new order,
#      the SMS for the change) sent by notification-service.
#
# The services run with auth off on ports 18281-18283, over scratch roles and schemas,
# topic, consumer groups and Redis keys of their own (as make api-fuzz does);
# their logs stay in .devenv/image-test/<time>/. Needs root (chroot, unshare).
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

# Inside the namespaces (called by start_image below): mounts what a runtime
# gives a container, then becomes the image's user in its root filesystem.
#   image-test.sh __exec ROOTFS UID:GID HOSTNAME VAR=value... -- ENTRYPOINT...
if [ "${1:-}" = __exec ]; then
	root=$2 user=$3 host=$4
	shift 4
	envs=()
	while [ "$1" != -- ]; do envs+=("$1"); shift; done
	shift
	mount -t tmpfs -o mode=0755,nosuid tmpfs "$root/dev"
	for n in null zero full random urandom tty; do
		touch "$root/dev/$n"
		mount --bind "/dev/$n" "$root/dev/$n"
	done
	mount -t tmpfs -o mode=1777,nosuid,nodev tmpfs "$root/dev/shm" 2>/dev/null || true
	printf '127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n127.0.1.1\t%s\n' "$host" >"$root/../hosts"
	echo "$host" >"$root/../hostname"
	for f in hosts hostname; do
		[ -e "$root/etc/$f" ] || touch "$root/etc/$f"
		mount --bind "$root/../$f" "$root/etc/$f"
	done
	hostname "$host" 2>/dev/null || true
	exec env -i "${envs[@]}" /usr/sbin/chroot --userspec="$user" "$root" "$@"
fi

cd "$ROOT"
LT_TAG=image-test
# shellcheck source-path=SCRIPTDIR source=loadtest/lib.sh
. hack/loadtest/lib.sh
LT_TOPIC=imagetest.order-events
SERVICES=(orders-service tracking-service notification-service)
declare -A PORT=([orders-service]=18281 [tracking-service]=18282 [notification-service]=18283)
GOAL_BYTES=$((60 * 1000 * 1000))

[ "$(id -u)" = 0 ] || lt_die "needs root (chroot into the images, unshare)"
command -v unshare >/dev/null && command -v readelf >/dev/null || lt_die "needs unshare (util-linux) and readelf (binutils)"

stamp=$(date -u +%Y%m%d-%H%M%S)
LT_RUN_DIR=$ROOT/.devenv/image-test/$stamp
lt_keep_newest "$ROOT/.devenv/image-test" 4
mkdir -p "$LT_RUN_DIR"
PG_PASSWORD='p@ss:w/rd?#%x'
ROLES=()
KEY_PREFIX="imagetest:$stamp:"
started=0
declare -A CHILD=()

cleanup() {
	local rc=$?
	trap - EXIT INT TERM
	stop_images
	if [ "$started" = 1 ]; then
		drop_roles
		lt_drop_keys "$KEY_PREFIX"
	fi
	# The unpacked filesystems are big and made again by each run; logs stay.
	find "$LT_RUN_DIR" -mindepth 2 -maxdepth 2 -name rootfs -type d -exec rm -rf {} + 2>/dev/null || true
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# unpack ARCHIVE DIR: the image's layers, in order, into DIR/rootfs (whiteouts
# applied); its config into DIR/{entrypoint,user,env,workdir}, one item a line;
# sizes into DIR/sizes (compressed layers, unpacked bytes).
unpack() {
	python3 - "$1" "$2" <<-'EOF'
		import json, os, shutil, sys, tarfile
		archive, out = sys.argv[1], sys.argv[2]
		root = os.path.join(out, "rootfs")
		os.makedirs(root)
		with tarfile.open(archive) as oci:
		    def blob(digest):
		        return oci.extractfile("blobs/" + digest.replace(":", "/"))
		    index = json.load(oci.extractfile("index.json"))
		    manifest = json.load(blob(index["manifests"][0]["digest"]))
		    config = json.load(blob(manifest["config"]["digest"])).get("config", {})
		    packed = 0
		    added = []
		    for layer in manifest["layers"]:
		        packed += layer["size"]
		        with tarfile.open(fileobj=blob(layer["digest"]), mode="r:*") as t:
		            members = []
		            for m in t.getmembers():
		                d, b = os.path.split(os.path.normpath(m.name))
		                if b == ".wh..wh..opq":
		                    target = os.path.join(root, d)
		                    for e in os.listdir(target) if os.path.isdir(target) else []:
		                        p = os.path.join(target, e)
		                        shutil.rmtree(p) if os.path.isdir(p) and not os.path.islink(p) else os.remove(p)
		                elif b.startswith(".wh."):
		                    p = os.path.join(root, d, b[4:])
		                    if os.path.isdir(p) and not os.path.islink(p):
		                        shutil.rmtree(p)
		                    elif os.path.lexists(p):
		                        os.remove(p)
		                else:
		                    members.append(m)
		            added = [os.path.normpath(m.name) for m in members if not m.isdir()]
		            t.extractall(root, members=members, numeric_owner=True, filter="fully_trusted")
		def write(name, items):
		    with open(os.path.join(out, name), "w") as f:
		        f.writelines(i + "\n" for i in items)
		write("entrypoint", (config.get("Entrypoint") or []) + (config.get("Cmd") or []))
		write("user", [config.get("User") or "0:0"])
		write("env", config.get("Env") or [])
		write("workdir", [config.get("WorkingDir") or "/"])
		unpacked = 0
		for d, _, files in os.walk(root):
		    for f in files:
		        p = os.path.join(d, f)
		        if not os.path.islink(p):
		            unpacked += os.lstat(p).st_size
		write("sizes", [str(packed), str(unpacked)])
		write("added", added)
	EOF
}

# check_added NAME DIR: the Dockerfile's runtime stage adds one layer over its
# base, and it holds the entrypoint alone: nothing of the build stage (its
# module cache, the CA bundle the build was lent) comes along.
check_added() {
	local name=$1 dir=$2 entry
	entry=$(head -n 1 "$dir/entrypoint")
	[ "$(cat "$dir/added")" = "${entry#/}" ] ||
		{ cat "$dir/added" >&2; lt_die "$name: the image's top layer holds more than $entry"; }
}

# userspec DIR: the image's USER as UID:GID, names looked up in its /etc/passwd
# and /etc/group, a missing group taken from the user's passwd entry.
userspec() {
	local u g
	u=$(cat "$1/user")
	g=${u#*:}
	[ "$g" = "$u" ] && g=""
	u=${u%%:*}
	if ! [[ $u =~ ^[0-9]+$ ]]; then
		u=$(awk -F: -v n="$u" '$1 == n { print $3 }' "$1/rootfs/etc/passwd")
	fi
	if [ -z "$g" ]; then
		g=$(awk -F: -v n="$u" '$3 == n { print $4 }' "$1/rootfs/etc/passwd")
	elif ! [[ $g =~ ^[0-9]+$ ]]; then
		g=$(awk -F: -v n="$g" '$1 == n { print $3 }' "$1/rootfs/etc/group")
	fi
	[ -n "$u" ] && [ -n "$g" ] || lt_die "cannot resolve the image's USER $(cat "$1/user")"
	echo "$u:$g"
}

# check_libraries NAME DIR: fails unless the entrypoint's interpreter and every
# library it needs are in the image.
check_libraries() {
	local name=$1 dir=$2 entry interp missing
	entry=$(head -n 1 "$dir/entrypoint")
	[ -f "$dir/rootfs$entry" ] || lt_die "$name: the entrypoint $entry is not in the image"
	interp=$(readelf -l "$dir/rootfs$entry" | sed -n 's/.*Requesting program interpreter: \(.*\)]$/\1/p')
	if [ -z "$interp" ]; then
		lt_log "$name: $entry is static"
		return
	fi
	[ -e "$dir/rootfs$interp" ] || lt_die "$name: $entry needs the interpreter $interp, which the image lacks"
	chroot "$dir/rootfs" "$interp" --list "$entry" >"$dir/libraries" 2>&1 ||
		{ cat "$dir/libraries" >&2; lt_die "$name: $entry needs a library the runtime image lacks (its $interp cannot load it)"; }
	missing=$(grep 'not found' "$dir/libraries" || true)
	[ -z "$missing" ] || { echo "$missing" >&2; lt_die "$name: $entry needs libraries the runtime image lacks"; }
	lt_log "$name: $(grep -c '=>' "$dir/libraries") libraries, all in the image ($(awk '/=>/ { printf "%s ", $1 }' "$dir/libraries"))"
}

# start_image NAME [VAR=value...]: runs NAME's entrypoint from its unpacked
# image, in new namespaces, with the image's Env, HOME and HOSTNAME, and the
# settings given; logs to LT_RUN_DIR/NAME.log. lt_wait_ready and
# lt_check_alive watch the unshare process, which the service outlives by no
# more than its shutdown: unshare --kill-child sends it SIGTERM when unshare dies.
start_image() {
	local name=$1 dir=$LT_RUN_DIR/$1 user home envs entry
	shift
	user=$(userspec "$dir")
	home=$(awk -F: -v n="${user%%:*}" '$3 == n { print $6 }' "$dir/rootfs/etc/passwd")
	[ "$(cat "$dir/workdir")" = / ] || [ -d "$dir/rootfs$(cat "$dir/workdir")" ] || lt_die "$name: no WORKDIR $(cat "$dir/workdir") in the image"
	mapfile -t envs <"$dir/env"
	mapfile -t entry <"$dir/entrypoint"
	mkdir -p "$dir/rootfs/proc" "$dir/rootfs/dev" "$dir/rootfs/etc"
	unshare --fork --pid --mount --uts --ipc --mount-proc="$dir/rootfs/proc" --kill-child=SIGTERM \
		"$ROOT/hack/image-test.sh" __exec "$dir/rootfs" "$user" "$name" \
		"HOME=${home:-/}" "HOSTNAME=$name" "${envs[@]}" "$@" -- "${entry[@]}" >"$LT_RUN_DIR/$name.log" 2>&1 &
	LT_PIDS+=($!)
	LT_NAMES+=("$name")
}

# check_process NAME: the service's process runs as its image's user, with
# no supplementary group, chrooted into its image.
check_process() {
	local name=$1 dir=$LT_RUN_DIR/$1 pid="" i want uid gid groups root u g
	for i in "${!LT_NAMES[@]}"; do [ "${LT_NAMES[$i]}" = "$name" ] && pid=${LT_PIDS[$i]}; done
	CHILD[$name]=$(pgrep -P "$pid" | head -n 1)
	[ -n "${CHILD[$name]}" ] || lt_die "$name: no process under unshare ($pid)"
	want=$(userspec "$dir")
	uid=$(awk '/^Uid:/ { print $2 ":" $3 ":" $4 ":" $5 }' "/proc/${CHILD[$name]}/status")
	gid=$(awk '/^Gid:/ { print $2 ":" $3 ":" $4 ":" $5 }' "/proc/${CHILD[$name]}/status")
	groups=$(awk '/^Groups:/ { $1 = ""; print }' "/proc/${CHILD[$name]}/status" | tr -d ' ')
	root=$(readlink "/proc/${CHILD[$name]}/root")
	u=${want%%:*} g=${want#*:}
	[ "$uid" = "$u:$u:$u:$u" ] && [ "$gid" = "$g:$g:$g:$g" ] || lt_die "$name runs as uid $uid gid $gid, want $want"
	[ -z "$groups" ] || [ "$groups" = "$g" ] || lt_die "$name has supplementary groups $groups, want none"
	[ "$root" = "$dir/rootfs" ] || lt_die "$name's root is $root, want $dir/rootfs"
	lt_log "$name: pid ${CHILD[$name]} runs $(head -n 1 "$dir/entrypoint") as $want in its image, ready"
}

# stop_images: SIGTERM to each service, as a runtime stops a container (the
# service is PID 1 of its namespace, so only the signals it handles reach it),
# then waits for it to exit: SIGKILL after 15s. With STRICT=1 (the test's own
# stop), a service that is not gone within 15s or exits non-zero fails.
stop_images() {
	local name pid i code failed="" deadline=$((SECONDS + 15))
	for name in "${!CHILD[@]}"; do kill -TERM "${CHILD[$name]}" 2>/dev/null || true; done
	for i in "${!LT_PIDS[@]}"; do
		name=${LT_NAMES[$i]} pid=${LT_PIDS[$i]}
		[ -n "${CHILD[$name]:-}" ] || kill -TERM "$pid" 2>/dev/null || true
		while kill -0 "$pid" 2>/dev/null && ((SECONDS < deadline)); do sleep 0.1; done
		if kill -0 "$pid" 2>/dev/null; then
			failed+=" $name (still running 15s after SIGTERM)"
			kill -KILL "${CHILD[$name]:-$pid}" "$pid" 2>/dev/null || true
		fi
		code=0
		wait "$pid" 2>/dev/null || code=$?
		[ "$code" = 0 ] || failed+=" $name (exit $code)"
	done
	LT_PIDS=() LT_NAMES=() CHILD=()
	if [ "${STRICT:-0}" = 1 ] && [ -n "$failed" ]; then
		lt_die "not stopped cleanly on SIGTERM:$failed"
	fi
}

# wait_for DESCRIPTION SECONDS COMMAND...: retries COMMAND until it succeeds.
wait_for() {
	local what=$1 deadline=$((SECONDS + $2))
	shift 2
	until "$@"; do
		lt_check_alive
		((SECONDS < deadline)) || lt_die "$what: not within $((deadline - SECONDS + $2))s"
		sleep 0.3
	done
}

# role_url ROLE: ROLE's URL on the database password_auth, without a password.
role_url() {
	local hostport=${DATABASE_URL#*@}
	echo "postgres://$1@${hostport%%/*}/password_auth?${DATABASE_URL#*\?}"
}

# make_role SERVICE: a login role for SERVICE with PG_PASSWORD, allowed to
# create a schema of its own in password_auth (its public schema is not
# writable), which it then does; sets ROLE_URL to the role's URL.
make_role() {
	local role
	role=imagetest_$(tr -c 'a-z0-9\n' _ <<<"${stamp}_$1" | tr -d '\n')
	ROLES+=("$role")
	# A psql variable quotes the password as a literal; -c would not expand it.
	psql "$DATABASE_URL" -qX -v ON_ERROR_STOP=1 -v pw="$PG_PASSWORD" >/dev/null <<-SQL || lt_die "cannot create role $role"
		create role $role login password :'pw';
		grant create on database password_auth to $role;
	SQL
	PGPASSWORD=$PG_PASSWORD psql "$(role_url "$role")" -qX -v ON_ERROR_STOP=1 \
		-c 'create schema authorization current_user' >/dev/null || lt_die "role $role cannot log in to password_auth"
	ROLE_URL=$(role_url "$role")
}

drop_roles() {
	local role
	for role in "${ROLES[@]}"; do
		PGPASSWORD=$PG_PASSWORD psql "$(role_url "$role")" -qX -c "drop schema if exists $role cascade" >/dev/null 2>&1 || true
		psql "$DATABASE_URL" -qX -c "revoke all on database password_auth from $role" -c "drop role if exists $role" >/dev/null 2>&1 || true
	done
	ROLES=()
}

out=$(hack/images.sh)

lt_log "unpacking the images into $LT_RUN_DIR"
printf '%-22s %12s %12s  %s\n' image archive unpacked "goal: under 60 MB each" >"$LT_RUN_DIR/sizes.txt"
for s in "${SERVICES[@]}"; do
	unpack "$out/$s.oci.tar" "$LT_RUN_DIR/$s"
	check_added "$s" "$LT_RUN_DIR/$s"
	check_libraries "$s" "$LT_RUN_DIR/$s"
	read -r packed unpacked < <(paste -sd' ' "$LT_RUN_DIR/$s/sizes")
	verdict=ok
	((unpacked < GOAL_BYTES)) || verdict="OVER the goal"
	awk -v s="$s" -v p="$packed" -v u="$unpacked" -v v="$verdict" \
		'BEGIN { printf "%-22s %9.1f MB %9.1f MB  %s\n", s, p / 1e6, u / 1e6, v }' >>"$LT_RUN_DIR/sizes.txt"
done
cat "$LT_RUN_DIR/sizes.txt"

eval "$(hack/devenv.sh up)"
started=1
settings=(LOG_LEVEL=info LOG_FORMAT=text "KAFKA_BROKERS=$KAFKA_BROKERS"
	"REDIS_ADDR=$REDIS_ADDR" "KAFKA_TOPIC=$LT_TOPIC" AUTH_MODE=off)
make_role orders
orders_db=$ROLE_URL
make_role notification
notification_db=$ROLE_URL
lt_log "orders-service and notification-service log in as roles of their own, password $PG_PASSWORD given apart"
orders=http://127.0.0.1:${PORT[orders-service]}
tracking=http://127.0.0.1:${PORT[tracking-service]}
notification=http://127.0.0.1:${PORT[notification-service]}

# orders-service first: it migrates its database and creates the topic.
start_image orders-service "${settings[@]}" "HTTP_PORT=${PORT[orders-service]}" \
	"DATABASE_URL=$orders_db" "DATABASE_PASSWORD=$PG_PASSWORD"
lt_wait_ready orders-service "$orders" 60
check_process orders-service
start_image tracking-service "${settings[@]}" "HTTP_PORT=${PORT[tracking-service]}" "ORDERS_SERVICE_URL=$orders" \
	"KAFKA_GROUP_ID=imagetest-$stamp-tracking" "REDIS_KEY_PREFIX=$KEY_PREFIX"
start_image notification-service "${settings[@]}" "HTTP_PORT=${PORT[notification-service]}" \
	"DATABASE_URL=$notification_db" "DATABASE_PASSWORD=$PG_PASSWORD" "KAFKA_GROUP_ID=imagetest-$stamp-notification"
lt_wait_ready tracking-service "$tracking" 60
check_process tracking-service
lt_wait_ready notification-service "$notification" 60
check_process notification-service

order=$(curl -fsS -X POST "$orders/orders/createOrder" -H 'Content-Type: application/json' \
	-d '{"customerName":"Image Test","item":"Container","quantity":3}') || lt_die "orders-service did not create the order"
id=$(python3 -c 'import json, sys; print(json.load(sys.stdin)["id"])' <<<"$order")
curl -fsS -o /dev/null -X PUT "$orders/orders/updateOrderStatus/$id?status=SHIPPED" || lt_die "orders-service did not ship order $id"
lt_log "order $id created and shipped on orders-service"

tracked() { curl -fsS "$tracking/track/$id" 2>/dev/null | grep -q '"status":"SHIPPED"'; }
wait_for "tracking-service showing order $id SHIPPED" 30 tracked
lt_log "tracking-service: $(curl -fsS "$tracking/track/$id")"
# One email for the new order, one SMS for the change, both sent.
notified() { [ "$(curl -fsS "$notification/notifications?orderId=$id" 2>/dev/null | grep -o '"sent"' | wc -l)" -ge 2 ]; }
wait_for "notification-service sending order $id's two notifications" 30 notified
lt_log "notification-service: $(curl -fsS "$notification/notifications?orderId=$id")"
STRICT=1 stop_images
lt_log "each service stopped on SIGTERM, exit 0"
lt_log "ok: each image ran its entrypoint as its user and order $id went through all three"
