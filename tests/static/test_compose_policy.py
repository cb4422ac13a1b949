"""Policies of docker-compose.yml that no engine runs here, checked over every service."""

import inspect
import re
from typing import Any

import pytest
import uvicorn

from app.settings import Settings
from bench.driver import EDGE_API_PORT, EDGE_PAGE_PORT, LONG_RUNNING, REPO_ROOT
from tests.static.compose import SECRETS_MOUNT, TEMPLATE, compose, is_one_shot, services, volume_mounts
from tests.static.compose import set_environment as environment

ALL = list(services())
ONE_SHOTS = [name for name in ALL if is_one_shot(name)]
PUBLISHING = [name for name, service in services().items() if "ports" in service]
# The one-shot that writes the secret files: the only one mounting the volume whole.
SECRET_WRITERS = [name for name in ALL if volume_mounts(name).get(SECRETS_MOUNT, ("",))[0] == "secrets"]
# The hosts a service's environment names: what it connects to.
HOST_VARIABLES = ("POSTGRES_HOST", "REDIS_HOST", "API_UPSTREAM")


def networks(name: str) -> set[str]:
    return set(services()[name].get("networks", []))


def dependencies(name: str) -> dict[str, str]:
    return {dep: spec["condition"] for dep, spec in services()[name].get("depends_on", {}).items()}


def waits_for(name: str) -> set[str]:
    """Every service `name` starts after, through its chain of dependencies."""
    direct = set(dependencies(name))
    return direct.union(*(waits_for(dep) for dep in direct))


def hosts(name: str) -> set[str]:
    return {environment(name)[key].split(":")[0] for key in HOST_VARIABLES if key in environment(name)}


def test_the_long_running_services_are_the_tests_and_the_makefiles() -> None:
    assert {name for name in ALL if not is_one_shot(name)} == set(LONG_RUNNING)
    makefile = re.search(r"^SERVICES := (.*)$", (REPO_ROOT / "Makefile").read_text(), re.MULTILINE)
    assert makefile and set(makefile.group(1).split()) == set(LONG_RUNNING)
    assert "version" not in compose()


def test_only_the_edge_publishes_the_page_and_api_ports_on_the_bind_address() -> None:
    assert len(PUBLISHING) == 1
    ports = services()[PUBLISHING[0]]["ports"]
    assert ports == [
        f"${{BIND_ADDRESS:-127.0.0.1}}:{port}:{port}" for port in (EDGE_PAGE_PORT, EDGE_API_PORT)
    ]
    assert not any("expose" in service for service in services().values())


@pytest.mark.parametrize("name", ALL)
def test_only_the_edge_joins_a_network_with_a_route_out(name: str) -> None:
    routed = {net for net, spec in compose()["networks"].items() if not (spec or {}).get("internal")}
    if name in PUBLISHING:
        assert networks(name) & routed, "the edge needs a routed network to publish its ports"
    else:
        assert not networks(name) & routed, f"{name} needs no route out"
    assert networks(name) or services()[name].get("network_mode") == "none", name


@pytest.mark.parametrize("name", ALL)
def test_each_service_shares_a_network_with_the_hosts_it_names_and_no_other(name: str) -> None:
    for host in hosts(name):
        assert networks(name) & networks(host), f"{name} cannot reach {host}"
    # The edge reaches its upstream only, never the data.
    if name in PUBLISHING:
        neighbours = {other for other in ALL if other != name and networks(other) & networks(name)}
        assert neighbours == hosts(name)


@pytest.mark.parametrize("name", ALL)
def test_every_service_runs_as_non_root(name: str) -> None:
    service = services()[name]
    if "build" in service:
        # The api image: USER is checked in test_dockerfile_policy.py.
        assert service["build"]["dockerfile"] == "python.Dockerfile" and "user" not in service
    elif "user" in service:
        # By name: the image's own user, who owns its data directories.
        assert re.fullmatch(r"[a-z_][a-z0-9_-]*", service["user"]) and service["user"] != "root"
    else:
        assert service["image"].startswith("nginxinc/nginx-unprivileged:")  # the image's USER 101
    assert not service.get("privileged", False)


@pytest.mark.parametrize("name", LONG_RUNNING)
def test_long_running_services_have_healthchecks_restart_and_an_init(name: str) -> None:
    service = services()[name]
    test = service["healthcheck"]["test"]
    assert test[0] in ("CMD", "CMD-SHELL") and len(test) > 1
    assert service["restart"] == "unless-stopped"
    # docker-init as PID 1: `make kill` can crash the service from inside.
    assert service["init"] is True
    # Healthchecks must never call GET /: that would count views.
    assert not re.search(rf"127\.0\.0\.1:{EDGE_API_PORT}/?(['\" ]|$)", " ".join(test))


def test_db_healthcheck_is_pg_isready_over_tcp() -> None:
    # During the first start only the socket listens: TCP stays red until the scripts are done.
    (db,) = [name for name in LONG_RUNNING if "pg_isready" in str(services()[name]["healthcheck"])]
    command = " ".join(services()[db]["healthcheck"]["test"][1:])
    assert "-h 127.0.0.1" in command and "$${POSTGRES_USER}" in command and "$${POSTGRES_DB}" in command


@pytest.mark.parametrize("name", ONE_SHOTS)
def test_one_shots_do_not_restart_nor_inherit_a_healthcheck(name: str) -> None:
    # The api image's HEALTHCHECK probes a server the one-shots never start.
    assert services()[name]["healthcheck"] == {"disable": True}


@pytest.mark.parametrize("name", [name for name, service in services().items() if "build" in service])
def test_built_images_are_rebuilt_at_every_up(name: str) -> None:
    # Otherwise `up` after a `git pull` keeps running the old image, and
    # Compose first tries to pull the local image name from a registry.
    assert services()[name]["pull_policy"] == "build"


@pytest.mark.parametrize("name", ALL)
def test_each_service_waits_for_what_it_uses_with_the_right_condition(name: str) -> None:
    for dep, condition in dependencies(name).items():
        expected = (
            ["service_completed_successfully"] if is_one_shot(dep) else ["service_healthy", "service_started"]
        )
        assert condition in expected, f"{name} -> {dep}"
    # The operator's tools (a profile: run on demand) work on a running stack,
    # and must never start one.
    if services()[name].get("profiles"):
        assert not dependencies(name)
        return
    # The edge waits for nothing: it serves the page from the start and
    # resolves the api per request (a dependency would hold the page back).
    if name in PUBLISHING:
        assert not dependencies(name)
        return
    assert name not in waits_for(name)
    for host in hosts(name):
        assert host in waits_for(name), f"{name} starts before {host}"
    # Whoever reads a secret file starts after the one-shot that writes it.
    if any(source.startswith("secrets/") for source, _ in volume_mounts(name).values()):
        assert set(SECRET_WRITERS) & waits_for(name), name


@pytest.mark.parametrize("name", ALL)
def test_images_are_pinned_by_digest_with_the_readable_tag(name: str) -> None:
    image = services()[name]["image"]
    if "build" in services()[name]:
        # Built here: its base image is pinned in python.Dockerfile.
        assert re.fullmatch(r"[a-z/-]+:\d+\.\d+\.\d+", image), image
        return
    match = re.fullmatch(r"([a-z/-]+):([0-9][a-z0-9.-]*)@sha256:([0-9a-f]{64})", image)
    assert match, image
    assert re.fullmatch(r"\d+\.\d+(\.\d+)?(-[a-z0-9.-]+)?", match.group(2)), image


@pytest.mark.parametrize("name", ALL)
def test_every_container_is_locked_down(name: str) -> None:
    service = services()[name]
    assert service["cap_drop"] == ["ALL"] and "cap_add" not in service
    assert service["security_opt"] == ["no-new-privileges:true"]
    assert service["read_only"] is True
    limits = service["deploy"]["resources"]["limits"]
    assert float(limits["cpus"]) > 0 and limits["memory"] and int(limits["pids"]) > 0
    # Docker refuses a `cpus` above the host's CPU count: every service must
    # start on a one-CPU host (a small VM, Docker Desktop set to 1 CPU).
    assert float(limits["cpus"]) <= 1.0


@pytest.mark.parametrize("name", ALL)
def test_writable_paths_are_memory_only_and_hide_no_mount(name: str) -> None:
    mounted = volume_mounts(name)
    for entry in services()[name].get("tmpfs", []):
        path, _, options = entry.partition(":")
        assert not any(target == path or target.startswith(path + "/") for target in mounted), entry
        # Only ownership options (a tmpfs over an image directory is root's otherwise).
        assert all(option.split("=")[0] in ("uid", "gid") for option in filter(None, options.split(","))), (
            entry
        )


@pytest.mark.parametrize("name", ALL)
def test_mounts_are_read_only_files_of_the_repository_or_named_volumes(name: str) -> None:
    for source, mode in volume_mounts(name).values():
        assert "docker.sock" not in source, name
        if source.startswith("./"):
            assert mode == "ro" and (REPO_ROOT / source).exists(), f"{name}: {source}"
        else:
            assert source.split("/")[0] in compose()["volumes"], f"{name}: {source}"


def test_named_volumes_at_the_paths_of_the_pinned_versions() -> None:
    (db,) = [name for name in LONG_RUNNING if services()[name].get("image", "").startswith("postgres:")]
    major = int(services()[db]["image"].split("@")[0].split(":")[1].split(".")[0])
    # 18 moved PGDATA under /var/lib/postgresql/18/docker and the VOLUME up.
    expected_db_path = "/var/lib/postgresql" if major >= 18 else "/var/lib/postgresql/data"
    assert volume_mounts(db)[expected_db_path][1] == "rw"


def test_redis_persists_with_aof() -> None:
    (redis,) = [name for name in ALL if services()[name].get("image", "").startswith("redis:")]
    (conf_path,) = services()[redis]["command"][1:]  # the image's documented form: redis-server CONF
    assert volume_mounts(redis)[conf_path] == ("./redis/redis.conf", "ro")
    conf = (REPO_ROOT / "redis" / "redis.conf").read_text().split("\n")
    # Every served INCR is on disk: no views value is served twice after a crash.
    assert "appendonly yes" in conf and "appendfsync always" in conf


def operator_commands_in(name: str) -> list[str]:
    """The Makefile's commands that run inside the service (make psql, redis-cli)."""
    makefile = (REPO_ROOT / "Makefile").read_text().splitlines()
    return [line for line in makefile if re.search(rf"\$\(COMPOSE\) exec \S* ?{name} ", line)]


def secret_files_named(name: str) -> set[str]:
    """The secret files a service reads: its *_FILE variables, its healthcheck,
    the configuration files it mounts (redis.conf's aclfile), and the
    operator's commands run inside it."""
    service: dict[str, Any] = services()[name]
    configs = [REPO_ROOT / source for source, _ in volume_mounts(name).values() if source.startswith("./")]
    text = " ".join(
        [str(service.get("environment")), str(service.get("healthcheck")), *operator_commands_in(name)]
        + [path.read_text() for path in configs if path.is_file()]
    )
    return set(re.findall(rf"{re.escape(SECRETS_MOUNT)}/([\w.-]+)", text))


@pytest.mark.parametrize("name", [name for name in ALL if name not in SECRET_WRITERS])
def test_each_service_mounts_only_the_secret_files_it_reads_read_only(name: str) -> None:
    mounts = {target: spec for target, spec in volume_mounts(name).items() if spec[0].startswith("secrets")}
    for target, (source, mode) in mounts.items():
        # One file each, read-only, at the path its reader names.
        assert mode == "ro" and target == f"{SECRETS_MOUNT}/{source.removeprefix('secrets/')}", name
    assert {target.rsplit("/", 1)[1] for target in mounts} == secret_files_named(name)


SENSITIVE = re.compile(r"PASSWORD|SECRET|TOKEN|PASSPHRASE|API_KEY", re.IGNORECASE)


@pytest.mark.parametrize("name", ALL)
def test_no_secret_value_in_the_environment(name: str) -> None:
    for key, value in environment(name).items():
        if SENSITIVE.search(key):
            assert key.endswith("_FILE"), f"{name}: {key} must be a *_FILE variable"
            assert value.startswith(SECRETS_MOUNT + "/"), f"{name}: {key}={value}"


def test_the_edge_environment_defines_the_template_variables() -> None:
    placeholders = set(re.findall(r"\$\{([A-Z_]+)\}", TEMPLATE.read_text()))
    (edge,) = PUBLISHING
    # NGINX_LOCAL_RESOLVERS comes from the image's 15-local-resolvers.envsh;
    # NGINX_ENTRYPOINT_* and NGINX_ENVSUBST_* steer the image's entrypoint.
    assert environment(edge)["NGINX_ENTRYPOINT_LOCAL_RESOLVERS"]
    entrypoint_settings = {
        key for key in environment(edge) if key.startswith(("NGINX_ENTRYPOINT_", "NGINX_ENVSUBST_"))
    }
    assert placeholders - {"NGINX_LOCAL_RESOLVERS"} == set(environment(edge)) - entrypoint_settings


def test_nginx_includes_what_the_entrypoint_renders_into_a_writable_path() -> None:
    """The entrypoint renders templates/<sub>/x.template into <output>/<sub>/x,
    and nginx includes that very file (a missing one stops it loudly)."""
    (edge,) = PUBLISHING
    output_dir = environment(edge)["NGINX_ENVSUBST_OUTPUT_DIR"]
    assert output_dir in services()[edge]["tmpfs"]
    templates = [target for target in volume_mounts(edge) if target.startswith("/etc/nginx/templates/")]
    rendered = {
        output_dir + t.removeprefix("/etc/nginx/templates").removesuffix(".template") for t in templates
    }
    included = set(re.findall(r"^\s*include (\S+);", (REPO_ROOT / "nginx" / "nginx.conf").read_text(), re.M))
    assert rendered and rendered <= included, (rendered, included)


def test_every_interpolated_variable_is_documented_in_env_example() -> None:
    used = set(re.findall(r"\$\{([A-Z_]+)(?::?-[^}]*)?\}", (REPO_ROOT / "docker-compose.yml").read_text()))
    example = (REPO_ROOT / ".env.example").read_text()
    documented = set(re.findall(r"^#?\s*([A-Z_]+)=", example, re.MULTILINE))
    assert used <= documented, used - documented


def test_the_edge_container_lets_nginx_open_the_files_it_asks_for() -> None:
    """A worker raises its soft limit to worker_rlimit_nofile only up to the
    hard limit: the container's must not depend on how dockerd was started."""
    nginx_conf = (REPO_ROOT / "nginx" / "nginx.conf").read_text()
    wanted = re.search(r"^worker_rlimit_nofile (\d+);", nginx_conf, re.MULTILINE)
    nofile = services()["proxy"].get("ulimits", {}).get("nofile", {})
    assert wanted and int(nofile.get("hard", 0)) >= int(wanted.group(1))


@pytest.mark.parametrize("name", ALL)
def test_every_log_is_bounded(name: str) -> None:
    """Docker keeps a container's whole log by default: the `local` driver
    with a size and a number of files caps it."""
    logging = services()[name]["logging"]
    assert logging["driver"] == "local"
    assert logging["options"]["max-size"] and int(logging["options"]["max-file"]) >= 1


def test_the_database_has_time_for_a_clean_shutdown() -> None:
    (db,) = [name for name in LONG_RUNNING if "pg_isready" in str(services()[name]["healthcheck"])]
    grace = services()[db]["stop_grace_period"]
    assert grace.endswith("s") and int(grace[:-1]) > 10  # Docker's default SIGKILLs after 10 s


def test_the_edge_gives_up_on_a_silent_api_only_past_the_apis_own_deadline() -> None:
    """A healthy API answers within its deadline (a database connection, the
    counter beside it): the edge's read timeout must not cut that answer, and
    must stay short enough to retry a silent replica's request elsewhere."""
    (read_ms,) = map(int, re.findall(r"proxy_read_timeout (\d+)ms;", TEMPLATE.read_text()))
    fields = Settings.model_fields
    # A request may wait for the counter's batch in flight, then its own.
    deadline_s = fields["db_acquire_timeout"].default + 2 * fields["redis_timeout"].default
    assert 1000 * deadline_s < read_ms <= 1500


def test_the_edge_closes_an_idle_api_connection_before_uvicorn_does() -> None:
    """nginx counts a kept-alive connection the API closed under a request as
    a failure of that replica (passive health)."""
    (edge_s,) = map(int, re.findall(r"keepalive_timeout (\d+)s;", TEMPLATE.read_text()))
    uvicorn_s = inspect.signature(uvicorn.Config).parameters["timeout_keep_alive"].default
    assert edge_s < uvicorn_s
