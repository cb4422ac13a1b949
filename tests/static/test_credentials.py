"""Who gets which credential in docker-compose.yml: the API its own role's
and Redis user's, migrate the owner's, Redis's healthcheck its PING-only user's."""

from app.init_secrets import DB_API_SECRET, DB_SECRET, REDIS_HEALTHCHECK_SECRET, REDIS_SECRET
from app.settings import REDIS_HEALTHCHECK_USER
from tests.static.compose import SECRETS_MOUNT, services, set_environment


def compose_environment(service: str) -> dict[str, str]:
    # The tunables passed on only when set (x-settings) hold no credential.
    return set_environment(service)


def test_compose_gives_the_api_only_its_own_credentials() -> None:
    api = compose_environment("api")
    assert "POSTGRES_PASSWORD_FILE" not in api
    assert api["POSTGRES_API_PASSWORD_FILE"] == f"{SECRETS_MOUNT}/{DB_API_SECRET}"
    assert api["REDIS_PASSWORD_FILE"] == f"{SECRETS_MOUNT}/{REDIS_SECRET}"


def test_compose_gives_migrate_the_owner_and_the_api_role_to_create() -> None:
    migrate = compose_environment("migrate")
    assert migrate["POSTGRES_PASSWORD_FILE"] == f"{SECRETS_MOUNT}/{DB_SECRET}"
    assert migrate["POSTGRES_API_PASSWORD_FILE"] == f"{SECRETS_MOUNT}/{DB_API_SECRET}"
    assert not any(key.startswith("REDIS_") for key in migrate)
    # Same pool sizing as the api: the role's connection limit derives from it.
    assert migrate["API_WORKERS"] == compose_environment("api")["API_WORKERS"]


def test_compose_redis_healthcheck_logs_in_as_the_healthcheck_user() -> None:
    command = " ".join(services()["redis"]["healthcheck"]["test"][1:])
    assert f"--user {REDIS_HEALTHCHECK_USER} " in command
    assert f'REDISCLI_AUTH="$$(cat {SECRETS_MOUNT}/{REDIS_HEALTHCHECK_SECRET})"' in command
    assert f"/{REDIS_SECRET})" not in command
