#!/usr/bin/env bash
# make redis-check-aof: Redis refuses to start on a damaged AOF (redis.conf:
# aof-load-truncated no). Stop it, cut the AOF back to its last whole
# command with its own redis-check-aof, start it, then skip the counter ahead
# by SKIP (10000): the commands cut may have counted views already served,
# and a view must never be served twice.
set -euo pipefail
cd "$(dirname "$0")/.."
skip=${SKIP:-10000}

docker compose stop redis
# shellcheck disable=SC2016  # expanded in the container
docker compose run --rm --no-deps -T --entrypoint sh redis -c \
  'echo y | redis-check-aof --fix /data/appendonlydir/appendonly.aof.manifest'
docker compose up --detach --wait --no-deps redis
# The counter's key, as the ACL file gives it to the API's user (its first
# `~key` pattern, unescaped).
# shellcheck disable=SC2016
docker compose exec -T redis sh -c '
  key=$(sed -n "2s/.* ~\([^ ]*\) .*/\1/p" /run/dashboard-secrets/redis-users.acl | sed "s/\\\\\(.\)/\1/g")
  REDISCLI_AUTH="$(cat /run/dashboard-secrets/redis_admin_password)" redis-cli --user admin INCRBY "$key" "$1"' - "$skip"
