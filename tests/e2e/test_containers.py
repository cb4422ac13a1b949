"""What only the real containers can show (make test-docker; skipped natively,
where tests/e2e/test_edge.py checks the processes instead)."""

import json
import subprocess

from bench.driver import StackDriver
from tests.conftest import REPO_ROOT
from tests.e2e.conftest import docker_only

pytestmark = docker_only


def docker(*args: str) -> str:
    return subprocess.run(["docker", *args], cwd=REPO_ROOT, capture_output=True, text=True, check=True).stdout


def running_containers() -> dict[str, str]:
    """service -> container id, for the long-running services."""
    rows = [json.loads(line) for line in docker("compose", "ps", "--format", "json").splitlines() if line]
    return {row["Service"]: row["ID"] for row in rows}


def test_the_long_running_services_are_up(stack: StackDriver) -> None:
    assert set(running_containers()) == {"proxy", "api", "db", "redis"}


def test_no_process_in_any_container_runs_as_root(stack: StackDriver) -> None:
    for service, container in running_containers().items():
        table = docker("top", container, "-eo", "uid,pid,comm").splitlines()[1:]
        uids = {int(line.split()[0]) for line in table}
        assert uids and 0 not in uids, f"{service}: {table}"


def test_only_8080_and_8000_are_published_on_loopback(stack: StackDriver) -> None:
    published = set()
    for service, container in running_containers().items():
        ports = json.loads(docker("inspect", "-f", "{{json .NetworkSettings.Ports}}", container)) or {}
        for bindings in ports.values():
            for binding in bindings or []:
                published.add((service, binding["HostIp"], binding["HostPort"]))
    assert published == {("proxy", "127.0.0.1", "8080"), ("proxy", "127.0.0.1", "8000")}


def test_the_secrets_are_files_no_environment_holds(stack: StackDriver) -> None:
    secrets = stack.secrets()
    for container in running_containers().values():
        environment = json.loads(docker("inspect", "-f", "{{json .Config.Env}}", container))
        assert not any(secret.decode() in variable for variable in environment for secret in secrets)


def test_root_filesystems_are_read_only(stack: StackDriver) -> None:
    for service, container in running_containers().items():
        assert docker("inspect", "-f", "{{.HostConfig.ReadonlyRootfs}}", container).strip() == "true", service


def test_persistent_volumes_exist(stack: StackDriver) -> None:
    volumes = docker("volume", "ls", "--format", "{{.Name}}").split()
    for name in ("db-data", "redis-data", "secrets"):
        assert f"student-dashboard_{name}" in volumes
