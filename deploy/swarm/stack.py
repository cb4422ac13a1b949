"""Turn `docker compose config --format json` into a `docker stack deploy` file.

Only translations of form, no choice of its own: the choices are in
docker-compose.yml and compose.swarm.yml. What `docker stack deploy` (docker
CLI 26) rejects or silently drops:
- top-level `name`, long-form `depends_on`, `pull_policy`: rejected. Swarm has
  no start order; each service waits for what it needs by itself.
- short-form `tmpfs`: dropped silently, so a read-only root would have no
  writable /tmp: rewritten as tmpfs mounts.
- numeric `cpus`: rejected; written as a string. A published port written as
  a string (as `config` does): rejected; written as a number.
- `build`, `restart`, `security_opt`, `network_mode`: ignored. The image is
  built before the deploy; deploy.restart_policy applies; no-new-privileges
  is lost under Swarm (no option for it), cap_drop and read_only are kept.
- explicit network and volume names: dropped, so that the stack prefixes its
  own (STACK_backend...).
- an environment variable without a value (a tunable neither .env nor the
  shell set): dropped, as compose leaves it unset; the stack format would
  pass the bare name on.
The `secrets` volume, and the one-shot that fills it, become Docker secrets:
each file a service mounts from it is mounted from the secret of the same
name (STACK_<file>, created by swarm.sh), at the same path.
A file bind-mounted from the checkout (nginx's, the page, redis.conf, the SQL
files) becomes a Docker config, so that a task reads the same bytes on any
node: a folder, one config per file in it. A config cannot change: its name
ends with its content's digest, so a changed file is a new config, and
`docker stack deploy` replaces the tasks that mount it.

Usage: python3 stack.py STACK < config.json > stack.json
"""

import hashlib
import json
import re
import sys
from pathlib import Path
from typing import Any

SECRETS_VOLUME = "secrets"
# The one-shot that fills the secrets volume under Compose.
SECRETS_FILLER = "secrets"
UNSUPPORTED = ("depends_on", "pull_policy", "build", "restart", "security_opt", "network_mode")
# Docker's longest config name, and the digest's share of it.
CONFIG_NAME_MAX = 64
DIGEST_CHARS = 12


def tmpfs_mounts(paths: list[str]) -> list[dict[str, Any]]:
    return [{"type": "tmpfs", "target": path.split(":", 1)[0]} for path in paths]


def secret_mount(volume: dict[str, Any]) -> str | None:
    """The secret file a mount takes from the secrets volume, if it is one."""
    if volume.get("type") != "volume" or volume.get("source") != SECRETS_VOLUME:
        return None
    name = (volume.get("volume") or {}).get("subpath")
    if not name:
        raise SystemExit(f"a mount of the whole {SECRETS_VOLUME} volume cannot become a secret: {volume}")
    return str(name)


def config_mounts(volume: dict[str, Any], stack_name: str, configs: dict[str, Any]) -> list[dict[str, Any]]:
    """The configs that replace a bind mount of a file, or of each file of a
    folder, at the same paths; each added to `configs`, named by content."""
    source = Path(volume["source"])
    if source.is_dir():
        files = {
            f"{volume['target']}/{path.name}": path for path in sorted(source.iterdir()) if path.is_file()
        }
    elif source.is_file():
        files = {volume["target"]: source}
    else:
        raise SystemExit(f"{source}: no such file in this checkout")
    mounts = []
    for target, path in files.items():
        digest = hashlib.sha256(path.read_bytes()).hexdigest()[:DIGEST_CHARS]
        room = CONFIG_NAME_MAX - len(stack_name) - len(digest) - 2
        if room < 8:
            raise SystemExit(f"the stack name {stack_name!r} leaves no room for config names")
        readable = re.sub(r"[^A-Za-z0-9_.-]", "-", path.name)[:room]
        name = f"{stack_name}_{readable}_{digest}"
        configs[name] = {"name": name, "file": str(path)}
        # Read-only, for every user, as the bind mount; a script stays runnable.
        mode = 0o555 if path.stat().st_mode & 0o111 else 0o444
        mounts.append({"source": name, "target": target, "mode": mode})
    return mounts


def service(
    spec: dict[str, Any], used_secrets: set[str], stack_name: str, configs: dict[str, Any]
) -> dict[str, Any]:
    spec = {key: value for key, value in spec.items() if key not in UNSUPPORTED and value is not None}
    if "environment" in spec:
        spec["environment"] = {key: value for key, value in spec["environment"].items() if value is not None}
    volumes, secrets, config_files = [], [], []
    for volume in spec.pop("volumes", []):
        name = secret_mount(volume)
        if volume.get("type") == "bind":
            config_files += config_mounts(volume, stack_name, configs)
        elif name is None:
            volumes.append(volume)
        else:
            secrets.append({"source": name, "target": volume["target"]})
            used_secrets.add(name)
    volumes += tmpfs_mounts(spec.pop("tmpfs", []))
    if volumes:
        spec["volumes"] = volumes
    if secrets:
        spec["secrets"] = secrets
    if config_files:
        spec["configs"] = config_files
    for port in spec.get("ports", []):
        port["published"] = int(port["published"])
    limits = spec.get("deploy", {}).get("resources", {}).get("limits", {})
    if "cpus" in limits:
        limits["cpus"] = str(limits["cpus"])
    return spec


def stack(config: dict[str, Any], name: str) -> dict[str, Any]:
    used_secrets: set[str] = set()
    configs: dict[str, Any] = {}
    services = {
        service_name: service(spec, used_secrets, name, configs)
        for service_name, spec in config["services"].items()
        if service_name != SECRETS_FILLER
    }
    return {
        "services": services,
        "networks": {key: _unnamed(value) for key, value in config.get("networks", {}).items()},
        "volumes": {
            key: _unnamed(value) for key, value in config.get("volumes", {}).items() if key != SECRETS_VOLUME
        },
        "secrets": {
            secret: {"external": True, "name": f"{name}_{secret}"} for secret in sorted(used_secrets)
        },
        "configs": configs,
    }


def _unnamed(spec: dict[str, Any] | None) -> dict[str, Any]:
    return {key: value for key, value in (spec or {}).items() if key != "name"}


def main() -> None:
    if len(sys.argv) != 2:
        raise SystemExit(__doc__)
    json.dump(stack(json.load(sys.stdin), sys.argv[1]), sys.stdout, indent=2)


if __name__ == "__main__":
    main()
