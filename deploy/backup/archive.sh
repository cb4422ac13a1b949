#!/bin/sh
# Runs in the `backup` one-shot (the postgres image, as postgres): writes to
# stdout one tar archive of the stack's state, for `make backup`:
#   db.dump      pg_dump of the application database (custom format)
#   redis.rdb    the point-in-time snapshot of Redis that backup.sh asked for
#   secrets/     every generated secret file
#   SHA256SUMS   what restore.sh checks before it changes anything
# Nothing is written anywhere else: the archive streams out, the staging
# folder is this container's tmpfs.
set -eu
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT

PGPASSWORD=$(cat "$POSTGRES_PASSWORD_FILE") pg_dump --format=custom \
  --host "$POSTGRES_HOST" --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
  --file "$stage/db.dump"
cp /run/redis-data/backup.rdb "$stage/redis.rdb"
mkdir "$stage/secrets"
cp /run/dashboard-secrets/* "$stage/secrets/"
(cd "$stage" && sha256sum db.dump redis.rdb secrets/* > SHA256SUMS)
tar -C "$stage" -cf - SHA256SUMS db.dump redis.rdb secrets
