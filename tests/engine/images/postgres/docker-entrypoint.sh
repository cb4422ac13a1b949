#!/usr/bin/env bash
# Entrypoint of standin/postgres:18-alpine, the stand-in for
# postgres:18.3-alpine3.23. Our own code, written to the documented contract
# of docker-library/postgres's docker-entrypoint.sh: *_FILE variables, first
# start initialises PGDATA (password required, scram-sha-256 over TCP),
# /docker-entrypoint-initdb.d/* run once in name order against a socket-only
# temporary server, root steps down to postgres.
# Not reproduced: POSTGRES_INITDB_ARGS/WALDIR, nss_wrapper, *.sql.xz/*.zst,
# the help/version passthrough, being sourced by another script.
set -Eeo pipefail

log() { printf '%s\n' "$*"; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

# env_or_secret NAME [FALLBACK]: exports NAME with its own value if it has
# one, else with the contents of the file NAME_FILE names (Docker secrets),
# else FALLBACK; NAME_FILE leaves the environment. Giving both is refused.
env_or_secret() {
	local name=$1 path_name=$1_FILE
	local value=${!name:-} path=${!path_name:-}
	if [ -z "$value" ]; then
		if [ -n "$path" ]; then
			value=$(<"$path")
		else
			value=${2:-}
		fi
	elif [ -n "$path" ]; then
		die "$name and $path_name are both set: give the value one way only"
	fi
	export "$name=$value"
	unset "$path_name"
}

load_settings() {
	env_or_secret POSTGRES_PASSWORD
	env_or_secret POSTGRES_USER postgres
	env_or_secret POSTGRES_DB "$POSTGRES_USER"
	: "${POSTGRES_HOST_AUTH_METHOD:=scram-sha-256}"
}

# PGDATA may be new (first start on an empty volume). chmod can fail on some
# mounts; PostgreSQL itself then says what is wrong.
create_directories() {
	mkdir -p "$PGDATA"
	chmod 700 "$PGDATA" 2>/dev/null || :
	mkdir -p /var/run/postgresql 2>/dev/null || :
	if [ "$(id -u)" = 0 ]; then
		find "$PGDATA" \! -user postgres -exec chown postgres: '{}' +
		find /var/run/postgresql \! -user postgres -exec chown postgres: '{}' +
	fi
}

require_password() {
	[ -n "$POSTGRES_PASSWORD" ] && return 0
	[ "$POSTGRES_HOST_AUTH_METHOD" = trust ] && return 0
	die "database is uninitialized and no superuser password is given;
  set POSTGRES_PASSWORD or POSTGRES_PASSWORD_FILE (or POSTGRES_HOST_AUTH_METHOD=trust)"
}

# The password reaches initdb through a pipe (/dev/fd/N): never on a command
# line, never in a file. --pwfile needs a line, hence the newline.
init_database_dir() {
	initdb --username="$POSTGRES_USER" --pwfile=<(printf '%s\n' "$POSTGRES_PASSWORD")
	printf 'host all all all %s\n' "$POSTGRES_HOST_AUTH_METHOD" >>"$PGDATA/pg_hba.conf"
}

# Unix socket only, so nothing outside (nor a TCP healthcheck) sees the
# database before the init scripts are done.
temp_server_start() {
	PGUSER=$POSTGRES_USER pg_ctl -D "$PGDATA" -w start \
		-o "-c listen_addresses='' -p ${PGPORT:-5432}"
}

temp_server_stop() {
	PGUSER=$POSTGRES_USER pg_ctl -D "$PGDATA" -m fast -w stop
}

# run_sql DB [psql args]: as the superuser, over the socket.
run_sql() {
	local db=$1; shift
	PGHOST='' PGHOSTADDR='' psql -v ON_ERROR_STOP=1 --no-psqlrc --no-password \
		--username "$POSTGRES_USER" --dbname "$db" "$@"
}

create_database() {
	[ "$POSTGRES_DB" = postgres ] && return 0
	local exists
	exists=$(run_sql postgres --tuples-only --set db="$POSTGRES_DB" \
		<<<"SELECT 1 FROM pg_database WHERE datname = :'db';")
	if [ -z "${exists//[[:space:]]/}" ]; then
		run_sql postgres --set db="$POSTGRES_DB" <<<'CREATE DATABASE :"db";'
	fi
}

# process_init_files FILE...: in the order given (the glob sorts by name).
# Any failure stops the entrypoint (set -e), so the server never starts on a
# half-initialised database.
process_init_files() {
	local f
	for f; do
		case $f in
			*.sh)
				if [ -x "$f" ]; then
					log "$0: running $f"; "$f"
				else
					log "$0: sourcing $f"
					# shellcheck source=/dev/null
					. "$f"
				fi ;;
			*.sql) log "$0: running $f"; run_sql "$POSTGRES_DB" -f "$f" ;;
			*.sql.gz) log "$0: running $f"; gunzip -c "$f" | run_sql "$POSTGRES_DB" ;;
			*) log "$0: ignoring $f" ;;
		esac
	done
}

first_start() {
	require_password
	init_database_dir
	# psql needs the password if an init script tightens local auth.
	export PGPASSWORD=${PGPASSWORD:-$POSTGRES_PASSWORD}
	temp_server_start
	create_database
	shopt -s nullglob
	process_init_files /docker-entrypoint-initdb.d/*
	shopt -u nullglob
	temp_server_stop
	unset PGPASSWORD
	log ''
	log 'PostgreSQL init process complete; ready for start up.'
	log ''
}

main() {
	# `docker run image -c foo=bar`: options go to postgres.
	if [ "${1:0:1}" = '-' ]; then
		set -- postgres "$@"
	fi
	if [ "$1" = postgres ]; then
		load_settings
		create_directories
		if [ "$(id -u)" = 0 ]; then
			# Same script again, as postgres (gosu in the official image).
			exec setpriv --reuid=postgres --regid=postgres --init-groups "${BASH_SOURCE[0]}" "$@"
		fi
		if [ -s "$PGDATA/PG_VERSION" ]; then
			log 'PostgreSQL Database directory appears to contain a database; Skipping initialization'
		else
			first_start
		fi
	fi
	exec "$@"
}

main "$@"
