#!/bin/sh
# Runs in the `backup` one-shot's image (postgres), the archive on its input:
# fails, saying why, unless every file is whole (SHA256SUMS) and the database
# dump reads. restore.sh changes nothing before this passes.
set -eu
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
tar -C "$stage" -xf - || { echo "not a whole tar archive" >&2; exit 1; }
cd "$stage"
[ -f SHA256SUMS ] || { echo "no SHA256SUMS: not an archive of make backup" >&2; exit 1; }
sha256sum -c SHA256SUMS >/dev/null || { echo "a file differs from its checksum (damaged)" >&2; exit 1; }
pg_restore --list db.dump >/dev/null || { echo "db.dump does not read as a pg_dump archive" >&2; exit 1; }
