#!/bin/sh
# Entrypoint of standin/nginx-unprivileged:1.30-alpine-slim, the stand-in for
# nginxinc/nginx-unprivileged:1.30.4-alpine-slim. Our own code, written to the
# documented behaviour of the official /docker-entrypoint.sh: when the command
# is nginx, the files of /docker-entrypoint.d run first in version order,
# *.envsh sourced (their exports reach the later scripts, not nginx: the
# official loop runs in a pipe, so in a subshell), *.sh executed, files without
# the exec bit ignored; NGINX_ENTRYPOINT_QUIET_LOGS silences the log lines.
set -e

entrypoint_log() {
    [ -n "${NGINX_ENTRYPOINT_QUIET_LOGS:-}" ] || echo "$@"
}

run_entrypoint_scripts() {
    scripts=$(find /docker-entrypoint.d/ -follow -type f -print 2>/dev/null | sort -V)
    if [ -z "$scripts" ]; then
        entrypoint_log "$0: No files found in /docker-entrypoint.d/, skipping configuration"
        return 0
    fi
    entrypoint_log "$0: /docker-entrypoint.d/ is not empty, will attempt to perform configuration"
    # The scripts get /dev/null as input, not the list.
    while IFS= read -r script; do
        case $script in
            *.envsh|*.sh)
                if [ ! -x "$script" ]; then
                    entrypoint_log "$0: Ignoring $script, not executable"
                elif [ "${script%.envsh}" != "$script" ]; then
                    entrypoint_log "$0: Sourcing $script"
                    . "$script" </dev/null
                else
                    entrypoint_log "$0: Launching $script"
                    "$script" </dev/null
                fi ;;
            *) entrypoint_log "$0: Ignoring $script" ;;
        esac
    done <<SCRIPTS
$scripts
SCRIPTS
    entrypoint_log "$0: Configuration complete; ready for start up"
}

if [ "${1:-}" = nginx ] || [ "${1:-}" = nginx-debug ]; then
    # In a subshell, like the official pipe: what an *.envsh exports is gone
    # by `exec`, so a stack that would rely on it fails here too.
    (run_entrypoint_scripts)
fi
exec "$@"
