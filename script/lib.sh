# shellcheck shell=bash
# script/lib.sh - shared by script/server and script/test. Source it, then:
#
#   pb_env server|test     set the PB_* variables (defaults differ per mode)
#   pb_lock                one script per state folder ($PB_VAR) at a time
#   pb_trap_cleanup        on exit, Ctrl-C or TERM stop what we started
#   pb_install_packages    apt-get what script/packages lists and is missing
#   pb_build DIR [ARGS]    autoreconf/configure/make an out-of-tree build
#   pb_pg_start/stop, pb_redis_start/stop, pb_write_config, pb_migrate,
#   pb_nginx_start/stop, pb_plugboard_start/stop, pb_stack_start, pb_stop_all
#
# Everything runs privately under $PB_VAR (Unix sockets, loopback only);
# system services are never used. Every start is idempotent: a service
# already running from this $PB_VAR is reused (Postgres, Redis) or restarted
# with the new configuration (nginx, plugboard).

PB_ROOT=${PB_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)}

# ---------------------------------------------------------------------------
# Messages

pb_say() { printf '==> %s\n' "$*" >&2; }
pb_warn() { printf '==> warning: %s\n' "$*" >&2; }
pb_die() {
	printf '==> error: %s\n' "$*" >&2
	exit 1
}

pb_is_root() { [ "$(id -u)" -eq 0 ]; }

# ---------------------------------------------------------------------------
# Environment

# pb_env MODE: set and export every PB_* variable, honouring values already
# in the environment. MODE "server" uses var/ and port 8080, MODE "test" uses
# var/test and port 18080, so both can run at the same time.
pb_env() {
	PB_MODE=$1
	case $PB_MODE in
	server)
		: "${PB_VAR:=$(pb_default_var)}" "${PB_PORT:=8080}"
		: "${PB_PG_FSYNC:=on}" "${PB_REDIS_SAVE:=yes}"
		;;
	test)
		: "${PB_VAR:=$(pb_default_var)/test}" "${PB_PORT:=18080}"
		# A throw-away database: durability only costs time here.
		: "${PB_PG_FSYNC:=off}" "${PB_REDIS_SAVE:=no}"
		;;
	bench)
		: "${PB_VAR:=$(pb_default_var)/bench}" "${PB_PORT:=28080}"
		: "${PB_PG_FSYNC:=off}" "${PB_REDIS_SAVE:=no}" "${PB_LOG_LEVEL:=warn}"
		;;
	*) pb_die "pb_env: unknown mode '$PB_MODE' (server, test or bench)" ;;
	esac
	PB_VAR=$(realpath -m -- "$PB_VAR")
	case $PB_VAR in "$PB_ROOT"/*) ;; *) pb_say "state folder: $PB_VAR" ;; esac
	PB_RUN=$PB_VAR/run
	PB_LOG=$PB_VAR/log
	PB_URL=http://127.0.0.1:$PB_PORT
	: "${PB_SMTP_PORT:=$((PB_PORT + 25))}"
	PB_MAILDIR=$PB_VAR/mail
	PB_BIN=${PB_BIN:-$PB_ROOT/build/plugboard}
	PB_CONFIG=$PB_VAR/plugboard.ini
	PB_SOCKET=$PB_RUN/plugboard.sock
	PB_CTL_SOCKET=$PB_RUN/plugboard.ctl
	PB_PIDFILE=$PB_RUN/plugboard.pid
	PB_REDIS_SOCK=$PB_RUN/redis.sock
	PB_PG_DATA=$PB_VAR/pg
	PB_PG_SOCKDIR=$PB_RUN/pg
	: "${PB_PG_PORT:=5432}" "${PB_PG_BIN:=/usr/lib/postgresql/15/bin}"
	: "${PB_WORKERS:=auto}" "${PB_BODY_MAX:=10M}" "${PB_LOG_LEVEL:=info}"
	: "${PB_MODULES_ENABLED:=*}" "${PB_DRAIN_TIMEOUT:=10}"
	: "${PB_START_TIMEOUT:=20}" "${PB_JOBS:=2}"
	PB_PG_CONNINFO="host=$PB_PG_SOCKDIR port=$PB_PG_PORT dbname=plugboard user=plugboard_app"
	PB_PG_OWNER_CONNINFO="host=$PB_PG_SOCKDIR port=$PB_PG_PORT dbname=plugboard user=plugboard_owner"
	export PB_MODE PB_ROOT PB_VAR PB_RUN PB_LOG PB_PORT PB_URL PB_BIN PB_CONFIG
	export PB_SOCKET PB_CTL_SOCKET PB_PIDFILE PB_REDIS_SOCK PB_PG_DATA
	export PB_PG_SOCKDIR PB_PG_PORT PB_PG_BIN PB_PG_FSYNC PB_REDIS_SAVE
	export PB_WORKERS PB_BODY_MAX PB_LOG_LEVEL PB_MODULES_ENABLED
	export PB_DRAIN_TIMEOUT PB_START_TIMEOUT PB_JOBS
	export PB_PG_CONNINFO PB_PG_OWNER_CONNINFO PB_SMTP_PORT PB_MAILDIR
	pb_check_paths
}

# pb_world_reachable PATH: true if every folder on the way to PATH (and PATH
# itself) lets any user through, so the service users (postgres, www-data)
# reach it. Works before those users exist (a fresh machine).
pb_world_reachable() {
	local p=$1 mode
	while :; do
		mode=$(stat -L -c %a -- "$p" 2>/dev/null) || return 1
		[ $((8#$mode & 1)) -eq 1 ] || return 1
		[ "$p" != / ] || return 0
		p=$(dirname -- "$p")
	done
}

# The default state folder: $PB_ROOT/var, unless we are root and the
# checkout is private (a clone in /root, mode 0700): PostgreSQL runs as the
# postgres user and nginx's workers as www-data, and they could not reach it.
# Then a folder of this checkout's own under /var/lib/plugboard (named by a
# hash of the checkout's path, so two checkouts never share one) is used;
# the user's home keeps its permissions.
pb_default_var() {
	local id
	if ! pb_is_root || pb_world_reachable "$PB_ROOT"; then
		printf '%s\n' "$PB_ROOT/var"
		return 0
	fi
	id=$(printf '%s' "$PB_ROOT" | sha256sum | cut -c1-12)
	printf '%s\n' "/var/lib/plugboard/$id"
}

# The generated configs hold paths unquoted (nginx, INI lists separated by
# spaces), so only plain path characters are accepted.
pb_check_path_chars() {
	case $2 in
	'' | *[!A-Za-z0-9._/+-]*)
		pb_die "$1='$2' must be a non-empty path of letters, digits and . _ / + - only (the generated configs cannot quote anything else)"
		;;
	esac
}

# sun_path holds 108 bytes; stay clearly below so no socket is cut short.
pb_check_socket_len() {
	[ "${#2}" -lt 100 ] ||
		pb_die "$1 socket path is ${#2} bytes, the limit is 99: $2 (set PB_VAR to a shorter folder)"
}

pb_check_paths() {
	pb_check_path_chars PB_ROOT "$PB_ROOT"
	pb_check_path_chars PB_VAR "$PB_VAR"
	case $PB_PORT in
	'' | *[!0-9]*) pb_die "PB_PORT='$PB_PORT' is not a port number" ;;
	esac
	case $PB_BODY_MAX in
	[0-9]*[kKmMgG] | [0-9]*) ;;
	*) pb_die "PB_BODY_MAX='$PB_BODY_MAX' must be a number with an optional k, M or G suffix" ;;
	esac
	pb_check_socket_len Postgres "$PB_PG_SOCKDIR/.s.PGSQL.$PB_PG_PORT"
	pb_check_socket_len Redis "$PB_REDIS_SOCK"
	pb_check_socket_len plugboard "$PB_SOCKET"
	pb_check_socket_len control "$PB_CTL_SOCKET"
}

# The state folder's layout. run/ must be traversable by nginx's workers
# (www-data when root) to reach plugboard.sock.
pb_dirs() {
	mkdir -p "$PB_VAR" "$PB_RUN" "$PB_LOG" "$PB_VAR/tmp" "$PB_VAR/redis" \
		"$PB_VAR/nginx/tmp"
	local top
	case $PB_VAR in
	/var/lib/plugboard/*)
		# Chosen by pb_default_var: whatever the umask, the service users
		# must get through every folder made for it. checkout names the
		# checkout it belongs to, for whoever looks in /var/lib/plugboard.
		top=${PB_VAR#/var/lib/plugboard/}
		top=/var/lib/plugboard/${top%%/*}
		chmod 755 /var/lib/plugboard "$top"
		printf '%s\n' "$PB_ROOT" >"$top/checkout"
		;;
	esac
	chmod 755 "$PB_VAR" "$PB_RUN"
	chmod 700 "$PB_VAR/tmp" "$PB_VAR/redis"
}

# ---------------------------------------------------------------------------
# Locking and clean-up

# One script per state folder: a second script/test on var/test would stop
# the first one's services. fd 9 stays open for the script's lifetime;
# every daemon is started with 9>&- so a leftover daemon never holds it.
pb_lock() {
	mkdir -p "$PB_VAR"
	exec 9>"$PB_VAR/.lock"
	flock -n 9 ||
		pb_die "another script is already using $PB_VAR; wait for it to finish (or set PB_VAR to another folder)"
	pb_dirs
}

# script/server and script/test share build/: builds wait for each other.
pb_with_build_lock() {
	mkdir -p "$PB_ROOT/var"
	(
		if ! flock -n 8; then
			pb_say "waiting for another build in $PB_ROOT to finish"
			flock 8
		fi
		"$@"
	) 8>"$PB_ROOT/var/.build.lock"
}

# Services started (or adopted from an interrupted run) are listed in a file,
# not a variable, so that starts made in a subshell (a test stage) are
# stopped too.
pb_mark_started() {
	local list="$PB_RUN/started"
	mkdir -p "$PB_RUN"
	grep -qsx -- "$1" "$list" || printf '%s\n' "$1" >>"$list"
}

pb_was_started() { grep -qsx -- "$1" "${PB_RUN:-/nonexistent}/started"; }

# Stop everything this script started, newest first. Never fails.
pb_stop_all() {
	[ -n "${PB_RUN:-}" ] && [ -f "$PB_RUN/started" ] || return 0
	if pb_was_started plugboard; then pb_plugboard_stop || pb_warn "plugboard did not stop cleanly"; fi
	if pb_was_started nginx; then pb_nginx_stop || pb_warn "nginx did not stop cleanly"; fi
	if pb_was_started redis; then pb_redis_stop || pb_warn "redis did not stop cleanly"; fi
	if pb_was_started smtp; then pb_smtp_stop || pb_warn "the SMTP sink did not stop cleanly"; fi
	if pb_was_started postgres; then pb_pg_stop || pb_warn "postgres did not stop cleanly"; fi
	rm -f "$PB_RUN/started"
}

pb__on_exit() {
	local rc=$?
	trap - EXIT INT TERM
	set +e
	pb_stop_all
	exit "$rc"
}

pb_trap_cleanup() {
	trap pb__on_exit EXIT
	trap 'exit 130' INT
	trap 'exit 143' TERM
}

# ---------------------------------------------------------------------------
# Processes

# True if PID exists and is not a zombie.
pb_proc_alive() {
	local stat
	[ -n "${1:-}" ] || return 1
	stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
	stat=${stat##*) }
	[ "${stat%% *}" != Z ]
}

# pb_pid_alive PIDFILE PATTERN: print the pid in PIDFILE if that process is
# alive and its name (/proc/PID/comm) matches the glob PATTERN; a stale
# pidfile whose pid was reused by another program does not count.
pb_pid_alive() {
	local pid comm
	[ -r "$1" ] || return 1
	pid=$(head -n 1 "$1" 2>/dev/null) || return 1
	pid=${pid//[[:space:]]/}
	[[ $pid =~ ^[0-9]+$ ]] || return 1
	pb_proc_alive "$pid" || return 1
	comm=$(cat "/proc/$pid/comm" 2>/dev/null) || return 1
	# shellcheck disable=SC2053 # $2 is a glob on purpose
	[[ $comm == $2 ]] || return 1
	printf '%s\n' "$pid"
}

# Direct children of PID (procps may not be installed, /proc always is).
pb_children() {
	local f stat rest ppid
	for f in /proc/[0-9]*/stat; do
		stat=$(cat "$f" 2>/dev/null) || continue
		rest=${stat##*) }
		read -r _ ppid _ <<<"$rest"
		[ "$ppid" = "$1" ] && { f=${f#/proc/}; printf '%s\n' "${f%/stat}"; }
	done
	return 0
}

pb_wait_gone() { # PID SECONDS
	local deadline=$((SECONDS + $2))
	while pb_proc_alive "$1"; do
		[ "$SECONDS" -lt "$deadline" ] || return 1
		sleep 0.1
	done
}

# pb_stop_pid PID SIGNAL GRACE NAME: signal, wait GRACE seconds, then KILL
# the process and its direct children (so no orphaned worker survives).
pb_stop_pid() {
	local pid=$1 sig=$2 grace=$3 name=$4 kids
	kill -"$sig" "$pid" 2>/dev/null || return 0
	pb_wait_gone "$pid" "$grace" && return 0
	pb_warn "$name (pid $pid) still running after ${grace}s: killing it"
	kids=$(pb_children "$pid")
	# shellcheck disable=SC2086 # one pid per word
	kill -KILL "$pid" $kids 2>/dev/null || true
	pb_wait_gone "$pid" 5
}

# ---------------------------------------------------------------------------
# Packages

pb_package_list() {
	sed -e 's/#.*//' -e 's/[[:space:]]//g' "$PB_ROOT/script/packages" | grep -v '^$'
}

pb_missing_packages() {
	local pkg
	while read -r pkg; do
		[ "$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null)" = "install ok installed" ] ||
			printf '%s\n' "$pkg"
	done < <(pb_package_list)
}

# The Debian packages of script/packages that bring a system service of
# their own, and that service: postgresql (postgresql.service, which starts
# the cluster 15/main on localhost:5432), redis-server (redis-server.service,
# 127.0.0.1:6379) and nginx-light (through nginx-common: nginx.service, port
# 80). Plugboard never uses them: it starts private instances.
PB_SERVICE_PACKAGES="postgresql:postgresql redis-server:redis-server nginx-light:nginx"

# pb_disable_service NAME: keep a system service from starting now or at
# boot, under systemd or System V init (a container or chroot has neither
# running: then only the boot links are removed).
pb_disable_service() {
	local sudo=("${@:2}")
	if [ -d /run/systemd/system ] && command -v systemctl >/dev/null; then
		"${sudo[@]}" systemctl disable --now "$1.service" >/dev/null 2>&1 || true
	else
		if command -v deb-systemd-helper >/dev/null; then
			"${sudo[@]}" deb-systemd-helper disable "$1.service" >/dev/null 2>&1 || true
		fi
		if [ -x "/etc/init.d/$1" ]; then
			"${sudo[@]}" "/etc/init.d/$1" stop >/dev/null 2>&1 || true
			"${sudo[@]}" update-rc.d "$1" disable >/dev/null 2>&1 || true
		fi
	fi
	pb_say "packages: disabled the system service $1 that the package enabled (Plugboard runs its own)"
}

# Install what script/packages lists and is missing, without Recommends
# (script/packages lists everything needed). apt-get update runs only when
# something is missing. Package scripts must not start system services
# (postgresql, redis-server and nginx would): a policy-rc.d that forbids it
# is put in place for the install when the machine has none; then the
# services of the packages installed here (never of ones that were already
# there) are disabled, so they do not start at boot either.
pb_install_packages() {
	local missing sudo=() rc=0 guard=/usr/sbin/policy-rc.d made_guard='' pair pkg svc m
	local services=()
	mapfile -t missing < <(pb_missing_packages)
	if [ "${#missing[@]}" -eq 0 ]; then
		pb_say "packages: all installed"
		return 0
	fi
	if ! pb_is_root; then
		command -v sudo >/dev/null ||
			pb_die "missing Debian packages: ${missing[*]} (run as root: apt-get install --no-install-recommends ${missing[*]})"
		sudo=(sudo)
	fi
	for pair in $PB_SERVICE_PACKAGES; do
		pkg=${pair%%:*} svc=${pair#*:}
		for m in "${missing[@]}"; do [ "$m" != "$pkg" ] || services+=("$svc"); done
	done
	pb_say "packages: installing ${missing[*]}"
	if [ ! -e "$guard" ]; then
		"${sudo[@]}" sh -c "printf '#!/bin/sh\n# Temporary: script/lib.sh is installing packages.\nexit 101\n' >$guard && chmod 755 $guard" &&
			made_guard=1
	fi
	{
		"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -q &&
			"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
				--no-install-recommends "${missing[@]}"
	} || rc=$?
	[ -z "$made_guard" ] || "${sudo[@]}" rm -f "$guard"
	[ "$rc" -eq 0 ] || pb_die "apt-get failed to install: ${missing[*]}"
	for svc in "${services[@]}"; do pb_disable_service "$svc" "${sudo[@]}"; done
	mapfile -t missing < <(pb_missing_packages)
	[ "${#missing[@]}" -eq 0 ] || pb_die "still missing after apt-get: ${missing[*]}"
}

# ---------------------------------------------------------------------------
# Build

# Regenerate configure when it is missing or older than its inputs
# (configure.ac, Makefile.am and the modules' module.am it includes).
pb_autoreconf() {
	local conf=$PB_ROOT/configure newer
	[ -f "$PB_ROOT/configure.ac" ] || pb_die "no configure.ac in $PB_ROOT"
	[ -f "$PB_ROOT/Makefile.am" ] || pb_die "no Makefile.am in $PB_ROOT: nothing to build yet"
	if [ -f "$conf" ] && [ ! "$PB_ROOT/configure.ac" -nt "$conf" ]; then
		newer=$(find "$PB_ROOT" \( -path "$PB_ROOT/build*" -o -path "$PB_ROOT/var" \
			-o -path "$PB_ROOT/.git" \) -prune -o \( -name Makefile.am -o -name module.am \) \
			-newer "$conf" -print -quit)
		[ -n "$newer" ] || return 0
	fi
	pb_say "autoreconf -fi"
	(cd "$PB_ROOT" && autoreconf -fi) || pb_die "autoreconf failed"
}

pb__build_locked() {
	local dir=$1
	shift
	pb_autoreconf
	mkdir -p "$dir"
	if [ ! -f "$dir/Makefile" ]; then
		pb_say "configuring ${dir#"$PB_ROOT"/}/ ${*:-}"
		(cd "$dir" && "$PB_ROOT/configure" "$@") || pb_die "configure failed in $dir (see $dir/config.log)"
	fi
	pb_say "make -j$PB_JOBS in ${dir#"$PB_ROOT"/}/"
	make -C "$dir" -j"$PB_JOBS" || pb_die "build failed in $dir"
}

# pb_build DIR [CONFIGURE ARGS]: out-of-tree build in $PB_ROOT/DIR, e.g.
# `pb_build build` or `pb_build build-asan --enable-sanitizers`. The
# configure arguments are used only when DIR is configured the first time.
pb_build() {
	local dir=$PB_ROOT/$1
	shift
	pb_with_build_lock pb__build_locked "$dir" "$@"
}

pb_require_bin() {
	[ -x "$PB_BIN" ] ||
		pb_die "$PB_BIN is missing: the plugboard host has not been built (run: make -C $PB_ROOT/build)"
}

# ---------------------------------------------------------------------------
# PostgreSQL

# Postgres refuses to run as root: then the `postgres` system user (made by
# the postgresql package) runs it. From / so it never lacks a cwd.
pb_as_pg() {
	if pb_is_root; then
		(cd / && runuser -u postgres -- "$@")
	else
		(cd / && "$@")
	fi
}

pb_pg_own() { if pb_is_root; then chown postgres:postgres "$@"; fi; }

pb_psql() { # superuser psql on the private instance
	"$PB_PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 -h "$PB_PG_SOCKDIR" -p "$PB_PG_PORT" -U postgres "$@"
}

pb_pg_init() {
	local want have
	[ -x "$PB_PG_BIN/initdb" ] ||
		pb_die "no PostgreSQL in $PB_PG_BIN (install postgresql, or set PB_PG_BIN)"
	if pb_is_root && ! runuser -u postgres -- test -x "$PB_VAR"; then
		pb_die "the postgres user cannot reach $PB_VAR (a parent folder is private): set PB_VAR to a folder it can traverse"
	fi
	# "postgres (PostgreSQL) 15.20 (Debian ...)" -> 15
	want=$("$PB_PG_BIN/postgres" -V | sed -E 's/^[^)]*\) ([0-9]+).*/\1/')
	if [ -f "$PB_PG_DATA/PG_VERSION" ]; then
		have=$(cat "$PB_PG_DATA/PG_VERSION")
		[ "$have" = "$want" ] ||
			pb_die "$PB_PG_DATA was made by PostgreSQL $have, this is $want: remove that folder to start afresh"
		return 0
	fi
	# A folder without PG_VERSION is an initdb that was interrupted.
	rm -rf -- "$PB_PG_DATA"
	mkdir -m 700 "$PB_PG_DATA"
	pb_pg_own "$PB_PG_DATA"
	pb_say "postgres: initdb $PB_PG_DATA"
	if ! pb_as_pg "$PB_PG_BIN/initdb" -D "$PB_PG_DATA" --auth=trust --username=postgres \
		--encoding=UTF8 --locale=C.UTF-8 >"$PB_LOG/initdb.log" 2>&1; then
		tail -n 20 "$PB_LOG/initdb.log" >&2
		rm -rf -- "$PB_PG_DATA"
		pb_die "initdb failed (log: $PB_LOG/initdb.log)"
	fi
	# Our settings live in a file of their own, rewritten at every start.
	printf "\ninclude_if_exists = 'plugboard.conf'\n" >>"$PB_PG_DATA/postgresql.conf"
}

pb_pg_write_conf() {
	local durable=on
	[ "$PB_PG_FSYNC" = on ] || durable=off
	cat >"$PB_PG_DATA/plugboard.conf" <<EOF
# Written by script/lib.sh at every start: change PB_* variables instead.
# Unix socket only, never TCP.
listen_addresses = ''
port = $PB_PG_PORT
unix_socket_directories = '$PB_PG_SOCKDIR'
unix_socket_permissions = 0770
# PB_PG_FSYNC=off is for throw-away test databases only: it trusts the
# operating system to keep what PostgreSQL wrote. Commits still wait for
# that write (synchronous_commit), so a killed PostgreSQL loses nothing it
# acknowledged, as in production.
fsync = $PB_PG_FSYNC
synchronous_commit = on
full_page_writes = $durable
EOF
	pb_pg_own "$PB_PG_DATA/plugboard.conf"
}

# Roles and database, re-asserted at every start (idempotent): the owner
# runs migrations; the application role owns nothing and has no power
# beyond CONNECT, so row-level security applies to it.
pb_pg_setup() {
	pb_psql -d postgres <<'SQL' || pb_die "could not create the plugboard roles and database"
DO $$
BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'plugboard_owner') THEN
    CREATE ROLE plugboard_owner LOGIN;
  END IF;
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'plugboard_app') THEN
    CREATE ROLE plugboard_app LOGIN;
  END IF;
END $$;
-- The owner runs migrations and the few SECURITY DEFINER sign-in functions,
-- which must read core.users before anyone is signed in: it bypasses the
-- row-level security that binds the application role. It dumps and restores
-- backups too, so it may create databases (verification and restore targets).
ALTER ROLE plugboard_owner LOGIN NOSUPERUSER CREATEDB NOCREATEROLE BYPASSRLS;
ALTER ROLE plugboard_app LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOBYPASSRLS;
SELECT 'CREATE DATABASE plugboard OWNER plugboard_owner ENCODING ''UTF8'' TEMPLATE template0'
 WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = 'plugboard') \gexec
ALTER DATABASE plugboard OWNER TO plugboard_owner;
REVOKE ALL ON DATABASE plugboard FROM PUBLIC;
GRANT CONNECT ON DATABASE plugboard TO plugboard_app;
SQL
}

pb_pg_running() { pb_as_pg "$PB_PG_BIN/pg_ctl" -D "$PB_PG_DATA" status >/dev/null 2>&1; }

# pb_pg_reset_db: drop the plugboard database (test stack only), so every
# test run starts from migrations on an empty database.
pb_pg_reset_db() {
	[ "$PB_MODE" = test ] || pb_die "pb_pg_reset_db is for the test stack only"
	pb_say "postgres: dropping the test database for a clean run"
	pb_psql -d postgres -c 'DROP DATABASE IF EXISTS plugboard WITH (FORCE)' >/dev/null
	pb_pg_setup
}

pb_pg_start() {
	pb_dirs
	pb_pg_init
	mkdir -p "$PB_PG_SOCKDIR"
	chmod 750 "$PB_PG_SOCKDIR"
	pb_pg_own "$PB_PG_SOCKDIR"
	pb_pg_write_conf
	touch "$PB_LOG/postgres.log"
	pb_pg_own "$PB_LOG/postgres.log"
	pb_mark_started postgres
	if pb_pg_running; then
		pb_say "postgres: already running, reloading its settings"
		pb_as_pg "$PB_PG_BIN/pg_ctl" -D "$PB_PG_DATA" reload >/dev/null
	else
		pb_say "postgres: starting on $PB_PG_SOCKDIR (fsync=$PB_PG_FSYNC)"
		if ! pb_as_pg "$PB_PG_BIN/pg_ctl" -D "$PB_PG_DATA" -l "$PB_LOG/postgres.log" -w -t 60 \
			start </dev/null >/dev/null 2>&1 9>&-; then
			tail -n 20 "$PB_LOG/postgres.log" >&2
			pb_die "postgres did not start (log: $PB_LOG/postgres.log)"
		fi
	fi
	pb_pg_setup
}

pb_pg_stop() {
	pb_pg_running || return 0
	pb_say "postgres: stopping"
	pb_as_pg "$PB_PG_BIN/pg_ctl" -D "$PB_PG_DATA" -m fast -w -t 60 stop >/dev/null
}

# ---------------------------------------------------------------------------
# Redis

pb_redis_ping() { redis-cli -s "$PB_REDIS_SOCK" ping 2>/dev/null | grep -q PONG; }

pb_redis_write_conf() {
	local save='save ""'
	[ "$PB_REDIS_SAVE" = no ] || save='save 3600 1 300 100 60 10000'
	cat >"$PB_VAR/redis.conf" <<EOF
# Written by script/lib.sh at every start: change PB_* variables instead.
# Unix socket only, never TCP.
port 0
unixsocket $PB_REDIS_SOCK
unixsocketperm 770
daemonize yes
pidfile $PB_RUN/redis.pid
logfile $PB_LOG/redis.log
dir $PB_VAR/redis
# Persistence: sessions are the state users would notice losing, so every
# mode keeps an append-only file synced each second (a crash or kill -9
# loses at most the last second); script/server also takes snapshots.
$save
appendonly yes
appendfsync everysec
EOF
}

pb_redis_start() {
	local pid deadline
	command -v redis-server >/dev/null || pb_die "redis-server is not installed (apt-get install redis-server)"
	pb_dirs
	pb_mark_started redis
	if pid=$(pb_pid_alive "$PB_RUN/redis.pid" redis-server); then
		if pb_redis_ping; then
			pb_say "redis: already running (pid $pid)"
			return 0
		fi
		pb_say "redis: pid $pid does not answer, restarting it"
		pb_redis_stop
	fi
	rm -f "$PB_RUN/redis.pid" "$PB_REDIS_SOCK"
	pb_redis_write_conf
	pb_say "redis: starting on $PB_REDIS_SOCK"
	redis-server "$PB_VAR/redis.conf" </dev/null >>"$PB_LOG/redis.log" 2>&1 9>&- ||
		pb_die "redis-server failed to start (log: $PB_LOG/redis.log)"
	deadline=$((SECONDS + 10))
	until pb_redis_ping; do
		if [ "$SECONDS" -ge "$deadline" ]; then
			tail -n 20 "$PB_LOG/redis.log" >&2
			pb_die "redis did not answer on $PB_REDIS_SOCK within 10s (log: $PB_LOG/redis.log)"
		fi
		sleep 0.1
	done
}

pb_redis_stop() {
	local pid
	pid=$(pb_pid_alive "$PB_RUN/redis.pid" redis-server) || return 0
	pb_say "redis: stopping (pid $pid)"
	pb_stop_pid "$pid" TERM 20 redis
}

# ---------------------------------------------------------------------------
# SMTP: a private mail sink on loopback (Debian's python3-aiosmtpd) that
# keeps every message it receives in the Maildir $PB_MAILDIR, so sign-up,
# invitation and password reset e-mails can be read (and tested) without
# sending anything anywhere.

pb_smtp_ping() { (exec 3<>"/dev/tcp/127.0.0.1/$PB_SMTP_PORT") 2>/dev/null; }

pb_smtp_start() {
	local pid deadline
	/usr/bin/python3 -c 'import aiosmtpd' 2>/dev/null ||
		pb_die "aiosmtpd is not installed (apt-get install python3-aiosmtpd)"
	pb_dirs
	pb_mark_started smtp
	if pid=$(pb_pid_alive "$PB_RUN/smtp.pid" python3) && pb_smtp_ping; then
		pb_say "smtp: already running (pid $pid)"
		return 0
	fi
	[ -z "${pid:-}" ] || pb_smtp_stop
	mkdir -p "$PB_MAILDIR/tmp" "$PB_MAILDIR/new" "$PB_MAILDIR/cur"
	pb_say "smtp: mail sink on 127.0.0.1:$PB_SMTP_PORT, keeping mail in $PB_MAILDIR"
	/usr/bin/python3 -m aiosmtpd -n -l "127.0.0.1:$PB_SMTP_PORT" \
		-c aiosmtpd.handlers.Mailbox "$PB_MAILDIR" </dev/null >>"$PB_LOG/smtp.log" 2>&1 9>&- &
	echo $! >"$PB_RUN/smtp.pid"
	deadline=$((SECONDS + 10))
	until pb_smtp_ping; do
		if [ "$SECONDS" -ge "$deadline" ]; then
			tail -n 20 "$PB_LOG/smtp.log" >&2
			pb_die "the SMTP sink did not listen on 127.0.0.1:$PB_SMTP_PORT within 10s"
		fi
		sleep 0.1
	done
}

pb_smtp_stop() {
	local pid
	pid=$(pb_pid_alive "$PB_RUN/smtp.pid" python3) || return 0
	pb_say "smtp: stopping (pid $pid)"
	pb_stop_pid "$pid" TERM 10 smtp
}

# ---------------------------------------------------------------------------
# plugboard.ini

# Generate $PB_CONFIG from the current PB_* variables (see plugboard.ini at
# the repository root for what each key means).
pb_write_config() {
	local modules=$PB_ROOT/build/modules templates=$PB_ROOT/templates group='' p
	local migrations=$PB_ROOT/sql timeout=${PB_REQUEST_TIMEOUT:-30}
	if [ "$PB_MODE" = test ]; then
		# The test modules, their templates, and a short request timeout so
		# the hanging-handler test is quick.
		# ... and a folder tests install modules into by rename(2), to reload.
		modules="$modules $PB_ROOT/build/tests/modules $PB_VAR/modules-extra"
		mkdir -p "$PB_VAR/modules-extra"
		# Crashes on purpose are part of the suite (the matrix, resilience):
		# the main stack does not quarantine; test_hotswap's own masters do,
		# and its two-loads reload test runs the default settings.
		: "${PB_QUARANTINE_CRASHES:=1000}"
		templates="$templates $PB_ROOT/tests/templates"
		migrations="$migrations $PB_ROOT/tests/sql"
		timeout=${PB_REQUEST_TIMEOUT:-3}
		# Sign-in lockouts end quickly, so the throttling test can wait one out.
		: "${PB_LOGIN_WINDOW:=5}"
		# Job runs time out quickly, so the timeout test can wait one out.
		: "${PB_JOB_TIMEOUT:=6}"
	fi
	if [ "$PB_MODE" = bench ]; then
		# The Fortunes module, its template and its table.
		modules="$modules $PB_ROOT/build/bench"
		templates="$templates $PB_ROOT/bench/templates"
		migrations="$migrations $PB_ROOT/bench/sql"
	fi
	[ -z "${PB_EXTRA_MIGRATION_PATH:-}" ] || migrations="$migrations $PB_EXTRA_MIGRATION_PATH"
	[ -z "${PB_EXTRA_MODULE_PATH:-}" ] || modules="$modules $PB_EXTRA_MODULE_PATH"
	[ -z "${PB_EXTRA_TEMPLATE_PATH:-}" ] || templates="$templates $PB_EXTRA_TEMPLATE_PATH"
	for p in $modules $templates; do pb_check_path_chars "module/template path" "$p"; done
	# nginx's workers run as www-data when we are root: they need the socket.
	! pb_is_root || group=www-data
	pb_dirs
	cat >"$PB_CONFIG.tmp" <<EOF
; Generated by script/lib.sh ($PB_MODE): edit PB_* variables, not this file.
; Every key is documented in $PB_ROOT/plugboard.ini.

[server]
socket = $PB_SOCKET
socket_mode = 0660
socket_group = $group
control_socket = $PB_CTL_SOCKET
pidfile = $PB_PIDFILE
workers = $PB_WORKERS
max_requests = ${PB_MAX_REQUESTS:-10000}
request_timeout = $timeout
drain_timeout = $PB_DRAIN_TIMEOUT
tmp_dir = $PB_VAR/tmp

[modules]
path = $modules
enabled = $PB_MODULES_ENABLED
state_file = $PB_VAR/modules.disabled
quarantine_crashes = ${PB_QUARANTINE_CRASHES:-5}

[templates]
path = $templates

[limits]
; Equal to nginx's client_max_body_size.
body_max = $PB_BODY_MAX

[database]
conninfo = $PB_PG_CONNINFO
owner_conninfo = $PB_PG_OWNER_CONNINFO
migrations = $migrations
statement_timeout = 10

[ratelimit]
login_attempts = 10
login_window = ${PB_LOGIN_WINDOW:-900}

[site]
public_url = $PB_URL

[api]
key_file = $PB_VAR/api.key

[mail]
smtp_url = smtp://127.0.0.1:$PB_SMTP_PORT
from = plugboard@localhost

[scheduler]
timezone = UTC
concurrency = 2
job_timeout = ${PB_JOB_TIMEOUT:-300}

[backups]
folder = $PB_VAR/backups
keep = ${PB_BACKUP_KEEP:-3}

[redis]
socket = $PB_REDIS_SOCK
timeout = 2

[log]
level = $PB_LOG_LEVEL
format = text
file = $PB_LOG/plugboard.jsonl
EOF
	mv -f "$PB_CONFIG.tmp" "$PB_CONFIG"
}

pb_migrate() {
	pb_require_bin
	[ -f "$PB_CONFIG" ] || pb_write_config
	pb_say "plugboard: applying migrations"
	"$PB_BIN" -c "$PB_CONFIG" migrate </dev/null 9>&- || pb_die "migrations failed"
}

# ---------------------------------------------------------------------------
# nginx

PB_NGINX=${PB_NGINX:-/usr/sbin/nginx}
PB_NCHAN_MODULE=/usr/lib/nginx/modules/ngx_nchan_module.so

# Run from $PB_VAR/nginx: its processes keep that working directory, which
# is how pb_nginx_orphans tells this instance's workers from any other's.
pb_nginx() {
	(cd "$PB_VAR/nginx" &&
		"$PB_NGINX" -p "$PB_VAR/nginx/" -e "$PB_VAR/nginx/error.log" -c "$PB_VAR/nginx/nginx.conf" "$@")
}

# Workers left behind by a master that was killed with SIGKILL still hold
# the port: find them by name and working directory.
pb_nginx_orphans() {
	local d pid
	for d in /proc/[0-9]*; do
		[ "$(cat "$d/comm" 2>/dev/null)" = nginx ] || continue
		[ "$(readlink "$d/cwd" 2>/dev/null)" = "$PB_VAR/nginx" ] || continue
		pid=${d#/proc/}
		pb_proc_alive "$pid" && printf '%s\n' "$pid"
	done
	return 0
}

pb_nginx_subst() { # TEMPLATE OUTPUT
	sed -e "s|@PB_ROOT@|$PB_WEB_ROOT|g" -e "s|@PB_VAR@|$PB_VAR|g" -e "s|@PB_PORT@|$PB_PORT|g" \
		-e "s|@PB_SOCKET@|$PB_SOCKET|g" -e "s|@PB_BODY_MAX@|$PB_BODY_MAX|g" "$1" >"$2"
	! grep -n '@PB_[A-Z_]*@' "$2" >&2 || pb_die "$1 has a placeholder script/lib.sh does not fill"
}

# The folder nginx serves static/ from: the checkout itself, or, when
# www-data cannot read it (a private checkout in /root), a copy in $PB_VAR
# refreshed at every nginx start.
pb_nginx_web_root() {
	PB_WEB_ROOT=$PB_ROOT
	if pb_is_root && ! pb_world_reachable "$PB_ROOT/static"; then
		PB_WEB_ROOT=$PB_VAR/www
		rm -rf -- "$PB_WEB_ROOT.new"
		mkdir -p "$PB_WEB_ROOT.new"
		cp -R -- "$PB_ROOT/static" "$PB_WEB_ROOT.new/static"
		chmod -R a+rX "$PB_WEB_ROOT.new"
		rm -rf -- "$PB_WEB_ROOT"
		mv -- "$PB_WEB_ROOT.new" "$PB_WEB_ROOT"
		pb_say "nginx: serving a copy of static/ from $PB_WEB_ROOT (www-data cannot read $PB_ROOT)"
	fi
}

# Render nginx/plugboard.conf.in and the locations snippet into $PB_VAR/nginx.
pb_nginx_render() {
	local dir=$PB_VAR/nginx
	pb_dirs
	pb_nginx_web_root
	pb_nginx_subst "$PB_ROOT/nginx/plugboard-locations.conf.in" "$dir/plugboard-locations.conf"
	pb_nginx_subst "$PB_ROOT/nginx/plugboard.conf.in" "$dir/nginx.conf.tmp"
	if pb_is_root; then
		# Workers must not run as root; www-data is Debian's web server user.
		{ printf 'user www-data;\n'; cat "$dir/nginx.conf.tmp"; } >"$dir/nginx.conf"
		rm -f "$dir/nginx.conf.tmp"
	else
		mv -f "$dir/nginx.conf.tmp" "$dir/nginx.conf"
	fi
}

pb_nginx_check_access() {
	pb_is_root || return 0
	runuser -u www-data -- test -r "$PB_WEB_ROOT/static/robots.txt" ||
		pb_warn "www-data cannot read $PB_WEB_ROOT/static: nginx will answer 403 for static files"
	runuser -u www-data -- test -x "$PB_RUN" ||
		pb_warn "www-data cannot reach $PB_RUN: nginx will answer 502 (plugboard.sock unreachable)"
}

pb_http_status() { # URL: the status code, 000 when nothing answers
	curl -s -o /dev/null -w '%{http_code}' --noproxy '*' --max-time 2 "$1" 2>/dev/null || true
}

pb_nginx_start() {
	local pid out deadline
	[ -x "$PB_NGINX" ] || pb_die "nginx is not installed (apt-get install nginx-light)"
	[ -f "$PB_NCHAN_MODULE" ] || pb_die "the nchan module is missing (apt-get install libnginx-mod-nchan)"
	pb_nginx_render
	if ! out=$(pb_nginx -t 2>&1 9>&-); then
		printf '%s\n' "$out" >&2
		pb_die "nginx -t rejected $PB_VAR/nginx/nginx.conf"
	fi
	pb_nginx_check_access
	if pid=$(pb_pid_alive "$PB_VAR/nginx/nginx.pid" nginx); then
		pb_say "nginx: restarting (pid $pid) to load the new configuration"
	fi
	pb_mark_started nginx
	pb_nginx_stop
	pb_say "nginx: starting on http://127.0.0.1:$PB_PORT"
	if ! pb_nginx </dev/null >>"$PB_LOG/nginx.log" 2>&1 9>&-; then
		tail -n 5 "$PB_LOG/nginx.log" "$PB_VAR/nginx/error.log" >&2 2>/dev/null
		pb_die "nginx did not start (is port $PB_PORT taken? see $PB_VAR/nginx/error.log)"
	fi
	deadline=$((SECONDS + 10))
	until [ "$(pb_http_status "$PB_URL/nginx-ceiling")" = 200 ]; do
		[ "$SECONDS" -lt "$deadline" ] ||
			pb_die "nginx does not answer on $PB_URL/nginx-ceiling (see $PB_VAR/nginx/error.log)"
		sleep 0.1
	done
}

pb_nginx_stop() {
	local pid orphans
	if pid=$(pb_pid_alive "$PB_VAR/nginx/nginx.pid" nginx); then
		pb_say "nginx: stopping (pid $pid)"
		# QUIT finishes requests in flight; KILL only if that hangs.
		pb_stop_pid "$pid" QUIT 10 nginx
	fi
	orphans=$(pb_nginx_orphans)
	if [ -n "$orphans" ]; then
		pb_say "nginx: stopping workers left by a killed master: ${orphans//$'\n'/ }"
		# shellcheck disable=SC2086 # one pid per word
		kill -KILL $orphans 2>/dev/null || true
	fi
	rm -f "$PB_VAR/nginx/nginx.pid"
}

# ---------------------------------------------------------------------------
# plugboard

PB_PLUGBOARD_PID=

pb_plugboard_log_tail() {
	local log=${PB_PLUGBOARD_LOG-$PB_LOG/plugboard.log}
	[ "$log" != - ] && [ -f "$log" ] || return 0
	printf -- '---- last lines of %s ----\n' "$log" >&2
	tail -n 30 "$log" >&2
}

# pb_plugboard_start: start the master in the background (log in
# $PB_PLUGBOARD_LOG, default $PB_LOG/plugboard.log, "-" for the terminal)
# and wait until $PB_URL/healthz answers 200: nginx must be running.
# A master already running from this $PB_VAR is restarted, so a new build
# and config are always what runs.
pb_plugboard_start() {
	local pid log=${PB_PLUGBOARD_LOG-$PB_LOG/plugboard.log}
	pb_require_bin
	[ -f "$PB_CONFIG" ] || pb_write_config
	if pid=$(pb_pid_alive "$PB_PIDFILE" '*plugboard*'); then
		pb_say "plugboard: restarting the running master (pid $pid)"
		pb_plugboard_stop
	fi
	# Nothing runs from this pidfile any more: what is left is stale.
	rm -f "$PB_PIDFILE" "$PB_SOCKET" "$PB_CTL_SOCKET"
	pb_mark_started plugboard
	pb_say "plugboard: starting $PB_BIN -c $PB_CONFIG"
	if [ "$log" = - ]; then
		"$PB_BIN" -c "$PB_CONFIG" </dev/null 9>&- &
	else
		"$PB_BIN" -c "$PB_CONFIG" </dev/null >>"$log" 2>&1 9>&- &
	fi
	PB_PLUGBOARD_PID=$!
	pb_plugboard_wait_healthy
}

pb_plugboard_wait_healthy() {
	local code deadline=$((SECONDS + PB_START_TIMEOUT))
	while :; do
		code=$(pb_http_status "$PB_URL/healthz")
		if [ "$code" = 200 ]; then
			pb_say "plugboard: healthy on $PB_URL/healthz"
			return 0
		fi
		# A master that daemonizes itself exits at once: its pidfile counts.
		if ! pb_proc_alive "$PB_PLUGBOARD_PID" &&
			! pb_pid_alive "$PB_PIDFILE" '*plugboard*' >/dev/null; then
			pb_plugboard_log_tail
			pb_die "plugboard exited during start-up"
		fi
		if [ "$SECONDS" -ge "$deadline" ]; then
			pb_plugboard_log_tail
			pb_die "plugboard did not answer 200 on $PB_URL/healthz within ${PB_START_TIMEOUT}s (last status $code)"
		fi
		sleep 0.2
	done
}

# Wait until the master started by pb_plugboard_start exits; returns its
# exit status (script/server runs in the foreground this way).
pb_plugboard_wait() {
	local rc=0
	wait "$PB_PLUGBOARD_PID" || rc=$?
	while pb_pid_alive "$PB_PIDFILE" '*plugboard*' >/dev/null; do sleep 1; done
	return "$rc"
}

pb_plugboard_stop() {
	local pid
	pid=$(pb_pid_alive "$PB_PIDFILE" '*plugboard*') || pid=$PB_PLUGBOARD_PID
	pb_proc_alive "$pid" || return 0
	pb_say "plugboard: stopping (pid $pid)"
	# TERM drains in-flight requests for drain_timeout, then KILL.
	pb_stop_pid "$pid" TERM "$((PB_DRAIN_TIMEOUT + 5))" plugboard
}

# ---------------------------------------------------------------------------
# The whole stack, in dependency order.

pb_stack_start() {
	pb_pg_start
	pb_redis_start
	pb_smtp_start
	pb_write_config
	pb_migrate
	pb_nginx_start
	pb_plugboard_start
}
