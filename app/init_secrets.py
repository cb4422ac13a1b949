"""Generate the stack's secrets once, into SECRETS_DIR.

Run by the one-shot `secrets` service before anything else starts. An
existing file is never overwritten: the database was initialised with it. To
bring your own secret, write the file before the first start (see the
README). A directory of an earlier version gets the missing files, and its
Redis ACL file is rewritten (derived, never edited).
"""

import hashlib
import logging
import os
import secrets
import sys
from pathlib import Path

from app import logs
from app.settings import REDIS_ADMIN_USER, REDIS_HEALTHCHECK_USER, Settings, get_settings

log = logging.getLogger("app.init_secrets")

# File names, not values.
DB_SECRET = "db_password"  # noqa: S105  (the owner, POSTGRES_USER)
DB_API_SECRET = "db_api_password"  # noqa: S105  (the API's role, POSTGRES_API_USER)
REDIS_SECRET = "redis_password"  # noqa: S105  (the API's Redis user, REDIS_USER)
REDIS_HEALTHCHECK_SECRET = "redis_healthcheck_password"  # noqa: S105
REDIS_ADMIN_SECRET = "redis_admin_password"  # noqa: S105  (the operator's Redis user)
PASSWORD_FILES = (DB_SECRET, DB_API_SECRET, REDIS_SECRET, REDIS_HEALTHCHECK_SECRET, REDIS_ADMIN_SECRET)
REDIS_ACL = "redis-users.acl"
# What the API sends: a view's increment (redis-py's incr() sends INCRBY key
# 1) and PING (readiness). AUTH needs no permission. redis-py's CLIENT SETINFO
# on connect is not sent (app.counter turns it off), so not allowed.
REDIS_API_COMMANDS = ("+incrby", "+ping")
DEFAULT_REDIS_USER: str = Settings.model_fields["redis_user"].default
DEFAULT_COUNTER_KEY: str = Settings.model_fields["counter_key"].default
# Readable by the other services' users (postgres, redis, api), which differ;
# only the services that need the secrets mount this directory.
SECRET_MODE = 0o444


def _write_once(path: Path, content: str) -> bool:
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, SECRET_MODE)
    except FileExistsError:
        return False
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(content)
    os.chmod(path, SECRET_MODE)  # os.open's mode is filtered by the umask
    return True


def replace_in_place(path: Path, content: str) -> None:
    """The file's content replaced, the file itself (its inode) kept: the
    services mount each secret file on its own (volume subpath), and such a
    mount would keep showing a file replaced by a rename. Written over, then
    cut to its length, never emptied first: a reader at that moment (a new
    connection of the API) reads the old content or the new one."""
    data = content.encode()
    os.chmod(path, 0o600)
    fd = os.open(path, os.O_WRONLY)
    try:
        os.write(fd, data)
        os.ftruncate(fd, len(data))
    finally:
        os.close(fd)
        os.chmod(path, SECRET_MODE)


def _password_hash(password: str) -> str:
    return "#" + hashlib.sha256(password.encode()).hexdigest()


def _literal_pattern(key: str) -> str:
    """A Redis glob pattern that matches `key` only."""
    return "".join("\\" + char if char in "*?[]\\" else char for char in key)


def redis_acl(
    api_password: str,
    healthcheck_password: str,
    admin_password: str,
    api_user: str = DEFAULT_REDIS_USER,
    counter_key: str = DEFAULT_COUNTER_KEY,
) -> str:
    """The ACL file: `default` off, the API's user on its one key with the
    commands it sends, the healthcheck user with PING, the operator's admin
    user with everything (a counter to repair, a rewrite of the AOF). Hashes
    only."""
    return (
        "user default off resetpass resetkeys resetchannels -@all\n"
        f"user {api_user} on {_password_hash(api_password)} resetkeys ~{_literal_pattern(counter_key)}"
        f" resetchannels -@all {' '.join(REDIS_API_COMMANDS)}\n"
        f"user {REDIS_HEALTHCHECK_USER} on {_password_hash(healthcheck_password)}"
        " resetkeys resetchannels -@all +ping\n"
        f"user {REDIS_ADMIN_USER} on {_password_hash(admin_password)} ~* &* +@all\n"
    )


class OwnerPasswordLost(Exception):
    """db_password is gone while the database it was made for is not."""


OWNER_PASSWORD_LOST = f"""{DB_SECRET} is missing, and the database was initialised with it: a new
one would not match, so none is made. Put the file back from a backup (make
restore), or give the owner a new password:
  printf '%s' "$NEW" | docker compose run --rm -T --no-deps secrets \\
    sh -c 'umask 0333 && cat > /run/dashboard-secrets/{DB_SECRET}'
  docker compose up -d --no-deps db
  echo "ALTER ROLE {{owner}} PASSWORD '$NEW';" | make psql
  make up"""


def _read(directory: Path, name: str) -> str:
    return (directory / name).read_text(encoding="utf-8").strip()


def ensure_secrets(
    directory: Path,
    redis_user: str = DEFAULT_REDIS_USER,
    counter_key: str = DEFAULT_COUNTER_KEY,
    database: Path | None = None,
) -> list[str]:
    """Create the missing secrets, and the ACL file for the API's Redis user
    `redis_user` and its key `counter_key`; returns the names created (or,
    for the ACL, rewritten). Never
    the owner's password of a `database` folder that is not empty (an
    initialised database)."""
    if not (directory / DB_SECRET).exists() and database is not None and any(database.iterdir()):
        raise OwnerPasswordLost(OWNER_PASSWORD_LOST)
    created = [name for name in PASSWORD_FILES if _write_once(directory / name, secrets.token_urlsafe(32))]
    api, healthcheck, admin = (
        _read(directory, name) for name in (REDIS_SECRET, REDIS_HEALTHCHECK_SECRET, REDIS_ADMIN_SECRET)
    )
    acl = redis_acl(api, healthcheck, admin, api_user=redis_user, counter_key=counter_key)
    acl_path = directory / REDIS_ACL
    if _write_once(acl_path, acl):
        created.append(REDIS_ACL)
    elif acl_path.read_text(encoding="utf-8") != acl:
        # Derived: follow a replaced password, a renamed user or key, and an
        # earlier version's file (`default` with every right).
        replace_in_place(acl_path, acl)
        created.append(REDIS_ACL)
    return created


def main() -> int:
    logs.configure()
    settings = get_settings()
    directory = settings.secrets_dir
    try:
        created = ensure_secrets(directory, settings.redis_user, settings.counter_key, settings.db_data_dir)
    except OwnerPasswordLost as exc:
        log.error("%s", str(exc).format(owner=settings.postgres_user))
        return 1
    except OSError as exc:
        log.error("cannot write secrets into %s: %s", directory, exc)
        return 1
    log.info("secrets in %s: created %s", directory, ", ".join(created) or "none (kept)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
