"""Generate the stack's secrets once, into SECRETS_DIR.

Run by the one-shot `secrets` service (Docker) and by the native runner before
anything else starts. An existing file is never overwritten: the database was
initialised with it. To bring your own secret, write the file before the
first start (see the README).
"""

import hashlib
import logging
import os
import secrets
import sys
from pathlib import Path

from app.settings import get_settings

log = logging.getLogger("app.init_secrets")

# File names, not values.
DB_SECRET = "db_password"  # noqa: S105
REDIS_SECRET = "redis_password"  # noqa: S105
REDIS_ACL = "redis-users.acl"
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


def redis_acl(password: str) -> str:
    """An ACL file for the default user that holds the password's hash only."""
    digest = hashlib.sha256(password.encode()).hexdigest()
    return f"user default on #{digest} ~* &* +@all\n"


def ensure_secrets(directory: Path) -> list[str]:
    """Create the missing secrets; returns the names created."""
    created = []
    for name in (DB_SECRET, REDIS_SECRET):
        if _write_once(directory / name, secrets.token_urlsafe(32)):
            created.append(name)
    redis_password = (directory / REDIS_SECRET).read_text(encoding="utf-8").strip()
    acl = redis_acl(redis_password)
    acl_path = directory / REDIS_ACL
    if acl_path.exists() and acl_path.read_text(encoding="utf-8") != acl:
        acl_path.unlink()  # derived from redis_password: follow a replaced password
    if _write_once(acl_path, acl):
        created.append(REDIS_ACL)
    return created


def main() -> int:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    directory = get_settings().secrets_dir
    try:
        created = ensure_secrets(directory)
    except OSError as exc:
        log.error("cannot write secrets into %s: %s", directory, exc)
        return 1
    log.info("secrets in %s: created %s", directory, ", ".join(created) or "none (kept)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
