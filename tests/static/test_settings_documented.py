"""Every setting documented in .env.example, and its tunables reaching the containers."""

import inspect
import re

from app.init_secrets import ensure_secrets
from app.settings import SECRET_SETTINGS, Settings
from tests.conftest import REPO_ROOT
from tests.static.compose import compose, passed_on, services

ENV_EXAMPLE = (REPO_ROOT / ".env.example").read_text()


def documented(text: str) -> set[str]:
    return set(re.findall(r"^#?\s*([A-Z_]+)=", text, re.MULTILINE))


def section(title: str) -> str:
    """The part of .env.example under the `# --- <title>...` heading."""
    (part,) = [part for part in ENV_EXAMPLE.split("\n# --- ") if part.startswith(title)]
    return part


def test_every_setting_is_documented_in_env_example() -> None:
    names = {name.upper() for name in Settings.model_fields}
    # Secrets are documented as their *_FILE variables.
    expected = names - {name.upper() for name in SECRET_SETTINGS}
    assert expected <= documented(ENV_EXAMPLE), expected - documented(ENV_EXAMPLE)


def test_the_documented_tunables_are_the_ones_compose_passes_on() -> None:
    tunables = documented(section("Tunables"))
    assert tunables <= {name.upper() for name in Settings.model_fields}
    assert set(compose()["x-settings"]) == tunables
    # Passed on without a value: the settings' defaults are the only ones.
    assert all(value is None for value in compose()["x-settings"].values())


def test_the_api_and_migrate_get_every_tunable() -> None:
    tunables = set(compose()["x-settings"])
    # And the rotation: the role and the Redis user it gives new passwords.
    for name in ("api", "migrate", "rotate"):
        assert passed_on(name) == tunables, name


def test_the_secret_generator_gets_what_the_acl_is_written_from_and_redis_follows_it() -> None:
    # The settings app/init_secrets.py writes the ACL from: its parameters.
    parameters = inspect.signature(ensure_secrets).parameters
    acl_inputs = {name.upper() for name in parameters} - {"DIRECTORY", "DATABASE"}
    assert passed_on("secrets") == acl_inputs <= set(compose()["x-settings"])
    # Redis reads the ACL at start only: compose restarts it when it
    # recreates `secrets` (a changed setting) because it asks to.
    assert services()["redis"]["depends_on"]["secrets"]["restart"] is True
    others = set(services()) - {"api", "migrate", "rotate", "secrets"}
    assert not any(passed_on(name) for name in others)
