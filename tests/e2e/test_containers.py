"""What the containers themselves show: users, ports, networks, mounts, images."""

import json
import os
import subprocess
import time

from app.settings import Settings
from bench.driver import API_URL, StackDriver
from tests.conftest import REPO_ROOT
from tests.e2e.test_edge import fetch, views_now


def docker(*args: str) -> str:
    return subprocess.run(["docker", *args], cwd=REPO_ROOT, capture_output=True, text=True, check=True).stdout


def running_containers(*, one_shots_too: bool = False) -> dict[str, str]:
    """service -> container id, for the long-running services (and the
    one-shots, exited, when asked)."""
    listing = docker("compose", "ps", *(["--all"] if one_shots_too else []), "--format", "json")
    rows = [json.loads(line) for line in listing.splitlines() if line]
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
    containers = running_containers(one_shots_too=True)
    assert {"secrets", "migrate"} <= set(containers)
    for container in containers.values():
        environment = json.loads(docker("inspect", "-f", "{{json .Config.Env}}", container))
        assert not any(secret.decode() in variable for variable in environment for secret in secrets)


def test_root_filesystems_are_read_only(stack: StackDriver) -> None:
    for service, container in running_containers().items():
        assert docker("inspect", "-f", "{{.HostConfig.ReadonlyRootfs}}", container).strip() == "true", service


def test_persistent_volumes_exist(stack: StackDriver) -> None:
    project = docker("compose", "ls", "--format", "json", "--filter", "name=.")
    volumes = docker("volume", "ls", "--format", "{{.Name}}").split()
    name = os.environ.get("COMPOSE_PROJECT_NAME", "student-dashboard")
    assert name in project
    for volume in ("db-data", "redis-data", "secrets"):
        assert f"{name}_{volume}" in volumes


def test_only_the_edge_has_a_route_out(stack: StackDriver) -> None:
    """api, db and redis sit on internal networks only: no way out of the host."""
    for service, container in running_containers().items():
        networks = json.loads(docker("inspect", "-f", "{{json .NetworkSettings.Networks}}", container))
        internal = {
            name: docker("network", "inspect", "-f", "{{.Internal}}", name).strip() == "true"
            for name in networks
        }
        assert not all(internal.values()) if service == "proxy" else all(internal.values()), (
            service,
            internal,
        )


def test_the_api_image_holds_its_compiled_bytecode(stack: StackDriver) -> None:
    """The root is read-only: bytecode missing from the image would be
    recompiled by every process at every start."""
    check = (
        "import importlib.util as u, os, app.main, fastapi;"
        "print(all(os.path.exists(u.cache_from_source(m.__file__)) for m in (app.main, fastapi)))"
    )
    assert docker("compose", "exec", "-T", "api", "python", "-c", check).strip() == "True"


def ip_of(container: str) -> str:
    return docker(
        "inspect", "-f", "{{range .NetworkSettings.Networks}}{{.IPAddress}} {{end}}", container
    ).strip()


def test_the_edge_follows_the_api_to_a_new_address(stack: StackDriver) -> None:
    """A recreated api comes back on another address: the edge re-resolves
    its name (`resolve`) instead of keeping the address it started with."""
    old = running_containers()["api"]
    old_ip = ip_of(old)
    docker("compose", "up", "-d", "--wait", "--no-deps", "--no-recreate", "--scale", "api=2", "api")
    docker("rm", "-f", old)
    new = running_containers()["api"]
    assert new != old and ip_of(new) != old_ip
    time.sleep(3)  # the resolver's answers are trusted for 2 s
    for _ in range(20):
        assert fetch(API_URL)[0] == 200


def test_the_operator_repairs_the_counter_as_redis_admin(stack: StackDriver) -> None:
    """make redis-cli logs in as the admin user, whose password is a generated
    secret like the others (the API's user may only INCRBY)."""
    key = Settings.model_fields["counter_key"].default
    views = views_now()
    assert stack.make("redis-cli", stdin=f"SET {key} {views + 1000}\n").strip() == "OK"
    assert views_now() == views + 1001


def test_every_container_logs_to_a_bounded_local_log(stack: StackDriver) -> None:
    for service, container in running_containers(one_shots_too=True).items():
        config = json.loads(docker("inspect", "-f", "{{json .HostConfig.LogConfig}}", container))
        assert config["Type"] == "local" and config["Config"]["max-size"], (service, config)
    assert "Application startup complete" in stack.make("logs", "SERVICE=api")
