#!/usr/bin/env bash
# make backup: the running stack's database, view counter and generated
# secrets, as one archive in BACKUP_DIR (backups/), written 0600: it holds
# the secrets. Every tool runs in the stack's own images; the host needs
# docker compose only.
set -euo pipefail
cd "$(dirname "$0")/../.."

dir=${BACKUP_DIR:-backups}
mkdir -p "$dir"
file="$dir/student-dashboard-$(date -u +%Y%m%dT%H%M%SZ).tar"

# Redis's point-in-time snapshot, by its own redis-cli as the admin user: a
# replica's full synchronisation, consistent, not a copy of a file being
# written. Into Redis's volume, where the backup one-shot reads it.
# shellcheck disable=SC2016  # expanded in the container
docker compose exec -T redis sh -c \
  'REDISCLI_AUTH="$(cat /run/dashboard-secrets/redis_admin_password)" exec redis-cli --user admin --rdb /data/backup.rdb' \
  >/dev/null
cleanup() {
  docker compose exec -T redis rm -f /data/backup.rdb || true
  rm -f "$file.partial"
}
trap cleanup EXIT

umask 077
docker compose run --rm -T --no-deps backup >"$file.partial"
mv "$file.partial" "$file"
echo "$file"
