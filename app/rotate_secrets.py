"""make rotate-secrets: new passwords for every generated secret, with no
restart and no failed request.

Run by the one-shot `rotate` service (the api image, the `secrets` volume
whole, the backend network). Each new password is made valid before its file
changes, and each old one stays valid until every reader has moved on:
  1. Redis: each user gets its new password beside the old one (as `admin`);
  2. PostgreSQL: the API's role and the owner get theirs (as the owner); open
     sessions stay open;
  3. the files are rewritten in place (the services mount each file on its
     own), and the Redis ACL file with them: the API reads its password files
     at each new connection (Settings.current), the healthchecks at each check;
  4. after a grace period, the old Redis passwords are removed.
"""

import logging
import secrets
import sys
import time

import psycopg
from psycopg import sql
from redis import Redis
from redis.exceptions import RedisError

from app import logs
from app.db import conninfo
from app.init_secrets import (
    DB_API_SECRET,
    DB_SECRET,
    PASSWORD_FILES,
    REDIS_ACL,
    REDIS_ADMIN_SECRET,
    REDIS_HEALTHCHECK_SECRET,
    REDIS_SECRET,
    redis_acl,
    replace_in_place,
)
from app.settings import REDIS_ADMIN_USER, REDIS_HEALTHCHECK_USER, Settings, get_settings

log = logging.getLogger("app.rotate_secrets")

# How long both passwords of a Redis user stay valid: a connection being
# opened with the old one has finished by then.
GRACE_S = 5.0


def redis_users(settings: Settings) -> dict[str, str]:
    """Redis user -> the file of its password."""
    return {
        settings.redis_user: REDIS_SECRET,
        REDIS_HEALTHCHECK_USER: REDIS_HEALTHCHECK_SECRET,
        REDIS_ADMIN_USER: REDIS_ADMIN_SECRET,
    }


def set_role_passwords(settings: Settings, new: dict[str, str]) -> None:
    """The API's role and the owner, as the owner (with the password it has
    now); only the SCRAM verifiers travel, as in app.migrate."""
    with psycopg.connect(conninfo(settings, owner=True), autocommit=True) as conn:
        for role, secret in (
            (settings.postgres_api_user, DB_API_SECRET),
            (settings.postgres_user, DB_SECRET),
        ):
            verifier = conn.pgconn.encrypt_password(new[secret].encode(), role.encode(), b"scram-sha-256")
            statement = sql.SQL("ALTER ROLE {} PASSWORD {}")
            conn.execute(statement.format(sql.Identifier(role), sql.Literal(verifier.decode())))


def rotate(settings: Settings, grace_s: float = GRACE_S) -> None:
    directory = settings.secrets_dir
    old = {name: (directory / name).read_text(encoding="utf-8").strip() for name in PASSWORD_FILES}
    new = {name: secrets.token_urlsafe(32) for name in PASSWORD_FILES}
    users = redis_users(settings)

    def as_admin(password: str) -> Redis:
        return Redis(
            host=settings.redis_host, port=settings.redis_port, username=REDIS_ADMIN_USER, password=password
        )

    with as_admin(old[REDIS_ADMIN_SECRET]) as admin:
        for user, secret in users.items():
            admin.execute_command("ACL", "SETUSER", user, f">{new[secret]}")
    log.info("Redis: every user takes its new password and, for %.0fs, its old one", grace_s)
    set_role_passwords(settings, new)
    log.info("PostgreSQL: the API's role and the owner have their new passwords")
    for name in PASSWORD_FILES:
        replace_in_place(directory / name, new[name])
    acl = redis_acl(
        new[REDIS_SECRET],
        new[REDIS_HEALTHCHECK_SECRET],
        new[REDIS_ADMIN_SECRET],
        api_user=settings.redis_user,
        counter_key=settings.counter_key,
    )
    replace_in_place(directory / REDIS_ACL, acl)
    log.info("the secret files hold the new passwords")
    time.sleep(grace_s)
    with as_admin(new[REDIS_ADMIN_SECRET]) as admin:
        for user, secret in users.items():
            admin.execute_command("ACL", "SETUSER", user, f"<{old[secret]}")
    log.info("Redis: the old passwords are gone; rotation done")


def main() -> int:
    logs.configure()
    try:
        rotate(get_settings())
    except (psycopg.Error, RedisError, OSError) as exc:
        log.error("rotation stopped: %s (the files changed only if the servers took the new passwords)", exc)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
