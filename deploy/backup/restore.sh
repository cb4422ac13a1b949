#!/usr/bin/env bash
# make restore FILE=…: an archive of make backup, back into a stack that is
# stopped and holds no data (make clean): the secrets, Redis's counter, the
# database; then make up. The whole archive is checked before anything is
# written, and nothing existing is ever overwritten.
set -euo pipefail
cd "$(dirname "$0")/../.."

say() { echo "restore: $*" >&2; }
fail() { say "$*"; exit 1; }

file=${1:-}
[ -n "$file" ] || fail "usage: make restore FILE=<archive of make backup>"
[ -r "$file" ] || fail "cannot read $file"

if [ -n "$(docker compose ps --all --quiet)" ]; then
  fail "the stack has containers (make down first); nothing was changed"
fi
docker compose run --rm -T check <"$file" || fail "$file is not a usable backup (above: why); nothing was changed"
# What the volumes hold (compose creates them, empty, for any run; a build
# may print on the same output, hence the marker).
held() { sed -n 's/^held: //p'; }
list='for folder; do find "$folder" -mindepth 1 -maxdepth 1 | sed "s/^/held: /"; done'
held=$(
  docker compose run --rm -T --no-deps --entrypoint sh secrets -c "$list" - /run/dashboard-secrets /run/db-data
  docker compose run --rm -T --no-deps --entrypoint sh backup -c "$list" - /run/redis-data
)
[ -z "$(echo "$held" | held)" ] || fail "the stack still has data: make clean first (after a backup of it); nothing was changed"

say "secrets"
docker compose run --rm -T --no-deps --entrypoint sh secrets -c \
  'cd /run/dashboard-secrets && tar -xf - --strip-components=1 secrets && chmod 0444 ./*' <"$file"
say "Redis's counter"
# Redis loads an RDB only with no AOF: loaded, then written as the AOF it
# runs on (CONFIG SET appendonly yes rewrites it), by a server of its own on
# a socket in its volume.
# shellcheck disable=SC2016
docker compose run --rm -T --no-deps --entrypoint sh redis -c '
  set -e
  tar -xOf - redis.rdb >/data/dump.rdb
  redis-server --appendonly no --dir /data --port 0 --unixsocket /data/restore.sock --daemonize yes
  until redis-cli -s /data/restore.sock ping >/dev/null 2>&1; do sleep 0.1; done
  redis-cli -s /data/restore.sock config set appendonly yes >/dev/null
  until redis-cli -s /data/restore.sock info persistence | grep -q "^aof_rewrite_in_progress:0" &&
        [ -f /data/appendonlydir/appendonly.aof.manifest ]; do sleep 0.1; done
  redis-cli -s /data/restore.sock shutdown nosave
  rm -f /data/dump.rdb /data/restore.sock' <"$file"
say "the database"
docker compose up --detach --wait db
# shellcheck disable=SC2016
docker compose exec -T db sh -c \
  'tar -xOf - db.dump | pg_restore --clean --if-exists --no-owner --no-privileges --exit-on-error -U "$POSTGRES_USER" -d "$POSTGRES_DB"' \
  <"$file"
say "done; starting the stack"
make --no-print-directory up
