#!/bin/sh
# Entrypoint of standin/redis:8-alpine, the stand-in for
# redis:8.10.2-alpine3.23. Our own code, written to the documented contract of
# docker-library/redis's docker-entrypoint.sh: options or a .conf as first
# argument go to redis-server; root fixes the ownership of /data and steps
# down to redis; files are private (umask 0077) unless a umask was chosen.
# Not reproduced: loading the bundled modules (this image has none).
set -e

# `docker run image --appendonly yes` or `docker run image /path/redis.conf`.
add_default_command() {
	case $1 in
		-*|*.conf) return 0 ;;
	esac
	return 1
}

# As root: the working directory (/data) and all it holds get redis as
# owner (the group is left alone), then the same script again as redis
# (gosu in the official image).
step_down_from_root() {
	chown -R redis .
	exec setpriv --reuid=redis --regid=redis --init-groups "$0" "$@"
}

# Docker's default umask 0022 would leave the RDB/AOF world-readable.
tighten_umask() {
	[ "$(umask)" = 0022 ] && umask 0077
	return 0
}

if add_default_command "${1:-}"; then
	set -- redis-server "$@"
fi
if [ "${1:-}" = redis-server ] && [ "$(id -u)" = 0 ]; then
	step_down_from_root "$@"
fi
tighten_umask
exec "$@"
