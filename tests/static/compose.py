"""The compose file and the Dockerfile, parsed for the policy tests."""

import json
import re
from functools import cache
from pathlib import Path
from typing import Any

import yaml

# Where every container reads its secret files (re-exported for the policy tests).
from bench.driver import SECRETS_MOUNT as SECRETS_MOUNT
from tests.conftest import REPO_ROOT

COMPOSE_FILE = REPO_ROOT / "docker-compose.yml"
DOCKERFILE = REPO_ROOT / "python.Dockerfile"
# The edge's servers, rendered by the nginx image's entrypoint.
TEMPLATE = REPO_ROOT / "nginx" / "default.conf.template"


@cache
def compose() -> dict[str, Any]:
    """The compose file with anchors and merge keys resolved."""
    loaded: dict[str, Any] = yaml.safe_load(COMPOSE_FILE.read_text())
    return loaded


def services() -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = compose()["services"]
    return found


def set_environment(service: str) -> dict[str, str]:
    """The variables compose sets for a service: not the tunables it passes
    on only when .env or the shell sets them (x-settings: no value)."""
    environment = (services()[service].get("environment") or {}).items()
    return {key: str(value) for key, value in environment if value is not None}


def passed_on(service: str) -> set[str]:
    """The tunables a service gets only when .env or the shell sets them."""
    return {key for key, value in (services()[service].get("environment") or {}).items() if value is None}


def volume_mounts(service: str) -> dict[str, tuple[str, str]]:
    """target -> (source, mode) of a service's volumes; a long-syntax mount of
    a volume's subpath has the source `volume/subpath`."""
    mounts = {}
    for entry in services()[service].get("volumes", []):
        if isinstance(entry, dict):
            subpath = (entry.get("volume") or {}).get("subpath")
            source = f"{entry['source']}/{subpath}" if subpath else entry["source"]
            mounts[entry["target"]] = (source, "ro" if entry.get("read_only") else "rw")
            continue
        parts = entry.split(":")
        mode = parts[2] if len(parts) > 2 else "rw"
        mounts[parts[1]] = (parts[0], mode)
    return mounts


def is_one_shot(service: str) -> bool:
    return bool(services()[service].get("restart") == "no")


def dockerfile_instructions(path: Path = DOCKERFILE) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, continuation lines joined, comments dropped."""
    text = re.sub(r"\\\n\s*", " ", path.read_text())
    instructions = []
    for line in text.splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        keyword, _, rest = stripped.partition(" ")
        instructions.append((keyword.upper(), rest.strip()))
    return instructions


def exec_form(arguments: str) -> list[str] | None:
    try:
        parsed = json.loads(arguments)
    except json.JSONDecodeError:
        return None
    return parsed if isinstance(parsed, list) else None


def base_image() -> str:
    """The Dockerfile's base: the default of the ARG that its FROM names."""
    instructions = dockerfile_instructions()
    (from_args,) = [args for keyword, args in instructions if keyword == "FROM"]
    variable = re.fullmatch(r"\$\{(\w+)\}", from_args)
    if variable is None:
        return from_args
    defaults = dict(args.partition("=")[::2] for keyword, args in instructions if keyword == "ARG")
    return defaults[variable.group(1)]
