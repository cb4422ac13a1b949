"""The migration step: play every SQL script, in name order, on the database.

The same scripts the postgres image plays from /docker-entrypoint-initdb.d on a
new volume; here they run at every start, so an existing volume (the POC's,
with v001 only) is brought up to date. The scripts are idempotent.
"""

import logging
import sys
import time
from pathlib import Path

import psycopg

from app.db import conninfo
from app.settings import Settings, get_settings

log = logging.getLogger("app.migrate")

# Serialises concurrent migrate runs (two `up` at once) on the same database.
MIGRATION_LOCK_ID = 2_024_001


def migration_files(sql_dir: Path) -> list[Path]:
    """The scripts in the order the image's entrypoint plays them (sorted names)."""
    files = sorted(sql_dir.glob("*.sql"))
    if not files:
        raise FileNotFoundError(f"no *.sql file in {sql_dir}")
    return files


def connect_with_retry(settings: Settings) -> psycopg.Connection:
    deadline = time.monotonic() + settings.migrate_wait_seconds
    while True:
        try:
            return psycopg.connect(conninfo(settings), autocommit=True)
        except psycopg.OperationalError as exc:
            if time.monotonic() >= deadline:
                raise
            log.info("database not reachable yet (%s); retrying", str(exc).strip().splitlines()[0])
            time.sleep(1)


def migrate(settings: Settings) -> list[str]:
    """Apply every script; returns their names in the order applied."""
    applied = []
    with connect_with_retry(settings) as conn:
        conn.execute("SELECT pg_advisory_lock(%s)", (MIGRATION_LOCK_ID,))
        for path in migration_files(settings.sql_dir):
            # No parameters: psycopg sends the script as one simple query, so
            # a script of several statements runs whole or not at all.
            conn.execute(path.read_text(encoding="utf-8"))
            log.info("applied %s", path.name)
            applied.append(path.name)
    return applied


def main() -> int:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    try:
        migrate(get_settings())
    except (psycopg.Error, OSError) as exc:
        log.error("migration failed: %s", exc)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
