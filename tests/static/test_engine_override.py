"""The engine tier runs the user's compose file: its override may only swap
the registry images for the local stand-ins (tests/engine/)."""

from typing import Any

import yaml

from tests.conftest import REPO_ROOT
from tests.static.compose import services

OVERRIDE = REPO_ROOT / "tests" / "engine" / "compose.standins.yml"
IMAGES = REPO_ROOT / "tests" / "engine" / "images"


def override_services() -> dict[str, dict[str, Any]]:
    loaded: dict[str, dict[str, Any]] = yaml.safe_load(OVERRIDE.read_text())["services"]
    return loaded


def test_the_override_changes_image_references_only() -> None:
    for name, service in override_services().items():
        if "build" in services()[name]:
            assert service == {"build": {"args": {"PYTHON_IMAGE": "standin/python:3.13-slim"}}}, name
        else:
            assert set(service) == {"image"}, name
            assert service["image"].startswith("standin/"), name


def test_every_registry_image_has_a_stand_in_with_its_own_folder() -> None:
    registry = {name for name, service in services().items() if "build" not in service}
    assert {name for name, service in override_services().items() if "image" in service} == registry
    built = {name for name, service in services().items() if "build" in service}
    assert built <= set(override_services())
    for folder in ("postgres", "redis", "nginx-unprivileged", "python"):
        header = (IMAGES / folder / "Dockerfile").read_text().split("\nFROM ", 1)[0]
        # Each says which official image it stands for and what it does not reproduce.
        assert "Stand-in for" in header and "NOT reproduce" in header, folder
