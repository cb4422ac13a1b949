"""Policies of docker-compose.yml that no engine runs here: checked by reading it."""

import re

import pytest

from app.init_secrets import DB_SECRET
from native.edge import TEMPLATE
from tests.conftest import REPO_ROOT
from tests.static.compose import SECRETS_MOUNT, compose, is_one_shot, services, volume_mounts

LONG_RUNNING = ("proxy", "api", "db", "redis")
ONE_SHOTS = ("migrate", "secrets")


def test_services_are_the_expected_ones() -> None:
    assert set(services()) == {*LONG_RUNNING, *ONE_SHOTS}
    assert "version" not in compose()
    assert not any("adminer" in str(service.get("image", "")) for service in services().values())


def test_only_the_edge_publishes_and_only_8080_and_8000_on_the_bind_address() -> None:
    published = {name: service["ports"] for name, service in services().items() if "ports" in service}
    assert published == {
        "proxy": ["${BIND_ADDRESS:-127.0.0.1}:8080:8080", "${BIND_ADDRESS:-127.0.0.1}:8000:8000"]
    }
    assert not any("expose" in service for service in services().values())


def test_only_the_edge_joins_a_network_with_a_route_out() -> None:
    networks = compose()["networks"]
    routed = {name for name, spec in networks.items() if not (spec or {}).get("internal")}
    for name, service in services().items():
        joined = set(service.get("networks", []))
        if name == "proxy":
            assert joined & routed, "the edge needs a routed network to publish its ports"
        else:
            assert not joined & routed, f"{name} joins {joined & routed}: it needs no route out"
        assert joined or service.get("network_mode") == "none", name


def test_the_api_reaches_the_edge_and_the_data_but_the_edge_never_the_data() -> None:
    def shared(a: str, b: str) -> set[str]:
        return set(services()[a].get("networks", [])) & set(services()[b].get("networks", []))

    assert shared("proxy", "api") and shared("api", "db") and shared("api", "redis")
    assert shared("migrate", "db")
    assert not shared("proxy", "db") and not shared("proxy", "redis")


@pytest.mark.parametrize("name", [*LONG_RUNNING, *ONE_SHOTS])
def test_every_service_runs_as_non_root(name: str) -> None:
    service = services()[name]
    image = service["image"]
    if "build" in service:
        # The api image: USER is checked in test_dockerfile_policy.py.
        assert service["build"]["dockerfile"] == "python.Dockerfile"
        assert "user" not in service
    elif image.startswith("nginxinc/nginx-unprivileged:"):
        assert "user" not in service  # the image's USER 101
    else:
        assert service["user"] not in ("root", "0", "0:0")
    assert not service.get("privileged", False)


def test_database_and_cache_users_are_their_images_own() -> None:
    assert services()["db"]["user"] == "postgres"
    assert services()["redis"]["user"] == "redis"


@pytest.mark.parametrize("name", LONG_RUNNING)
def test_long_running_services_have_healthchecks_restart_and_an_init(name: str) -> None:
    service = services()[name]
    test = service["healthcheck"]["test"]
    assert test[0] in ("CMD", "CMD-SHELL") and len(test) > 1
    assert service["restart"] == "unless-stopped"
    # docker-init as PID 1: `make kill` can crash the service from inside.
    assert service["init"] is True
    # Healthchecks must never call GET /: that would count views.
    assert not re.search(r"127\.0\.0\.1:8000/?(['\" ]|$)", " ".join(test))


def test_db_healthcheck_is_pg_isready_over_tcp() -> None:
    command = " ".join(services()["db"]["healthcheck"]["test"][1:])
    assert "pg_isready" in command and "-h 127.0.0.1" in command
    assert "$${POSTGRES_USER}" in command and "$${POSTGRES_DB}" in command


@pytest.mark.parametrize("name", ONE_SHOTS)
def test_one_shots_do_not_restart_nor_inherit_a_healthcheck(name: str) -> None:
    assert is_one_shot(name)
    # The api image's HEALTHCHECK probes a server the one-shots never start.
    assert services()[name]["healthcheck"] == {"disable": True}


@pytest.mark.parametrize("name", [name for name, service in services().items() if "build" in service])
def test_built_images_are_rebuilt_at_every_up(name: str) -> None:
    # Otherwise `up` after a `git pull` keeps running the old image, and
    # Compose first tries to pull the local image name from a registry.
    assert services()[name]["pull_policy"] == "build"


def test_startup_order_waits_on_conditions() -> None:
    expected = {
        "db": {"secrets": "service_completed_successfully"},
        "redis": {"secrets": "service_completed_successfully"},
        "migrate": {"db": "service_healthy"},
        "api": {"migrate": "service_completed_successfully", "redis": "service_started"},
    }
    for name, dependencies in expected.items():
        declared = services()[name]["depends_on"]
        assert {dep: spec["condition"] for dep, spec in declared.items()} == dependencies, name
    assert "depends_on" not in services()["secrets"]


def test_the_edge_waits_for_nothing() -> None:
    # It serves the page from the start and resolves the api per request: a
    # dependency would hold the page back until the database and migrate are
    # done, and forever if migrate fails.
    assert "depends_on" not in services()["proxy"]


@pytest.mark.parametrize("name", [*LONG_RUNNING, *ONE_SHOTS])
def test_images_are_pinned_by_digest_with_the_readable_tag(name: str) -> None:
    image = services()[name]["image"]
    if "build" in services()[name]:
        # Built here: its base image is pinned in python.Dockerfile.
        assert re.fullmatch(r"[a-z/-]+:\d+\.\d+\.\d+", image), image
        return
    match = re.fullmatch(r"([a-z/-]+):([0-9][a-z0-9.-]*)@sha256:([0-9a-f]{64})", image)
    assert match, image
    assert re.fullmatch(r"\d+\.\d+(\.\d+)?(-[a-z0-9.-]+)?", match.group(2)), image


@pytest.mark.parametrize("name", [*LONG_RUNNING, *ONE_SHOTS])
def test_every_container_is_locked_down(name: str) -> None:
    service = services()[name]
    assert service["cap_drop"] == ["ALL"]
    assert "cap_add" not in service
    assert service["security_opt"] == ["no-new-privileges:true"]
    assert service["read_only"] is True
    assert not service.get("privileged", False)
    limits = service["deploy"]["resources"]["limits"]
    assert float(limits["cpus"]) > 0 and limits["memory"] and int(limits["pids"]) > 0
    # Docker refuses a `cpus` above the host's CPU count: every service must
    # start on a one-CPU host (a small VM, Docker Desktop set to 1 CPU).
    assert float(limits["cpus"]) <= 1.0


def test_writable_paths_are_the_ones_each_image_needs() -> None:
    assert services()["proxy"]["tmpfs"] == ["/tmp", "/run/nginx"]
    assert services()["db"]["tmpfs"] == ["/run/postgresql", "/tmp"]
    assert services()["api"]["tmpfs"] == ["/tmp"]


def test_no_docker_socket_is_mounted() -> None:
    for name in services():
        assert not any("docker.sock" in source for source, _ in volume_mounts(name).values()), name


def test_named_volumes_at_the_paths_of_the_pinned_versions() -> None:
    assert set(compose()["volumes"]) == {"db-data", "redis-data", "secrets"}
    db_tag = services()["db"]["image"].split("@")[0].split(":")[1]
    major = int(db_tag.split(".")[0])
    # 18 moved PGDATA under /var/lib/postgresql/18/docker and the VOLUME up.
    expected_db_path = "/var/lib/postgresql" if major >= 18 else "/var/lib/postgresql/data"
    assert volume_mounts("db")[expected_db_path] == ("db-data", "rw")
    assert volume_mounts("redis")["/data"] == ("redis-data", "rw")


def test_init_scripts_and_configs_are_mounted_read_only() -> None:
    assert volume_mounts("db")["/docker-entrypoint-initdb.d"] == ("./sqlfiles", "ro")
    assert volume_mounts("redis")["/usr/local/etc/redis/redis.conf"] == ("./redis/redis.conf", "ro")
    assert volume_mounts("proxy")["/etc/nginx/nginx.conf"] == ("./nginx/nginx.conf", "ro")
    assert volume_mounts("proxy")["/etc/nginx/templates/default.conf.template"] == (
        "./" + str(TEMPLATE.relative_to(REPO_ROOT)),
        "ro",
    )
    assert volume_mounts("proxy")["/usr/share/nginx/html/index.html"] == ("./frontend/index.html", "ro")


def test_redis_persists_with_aof() -> None:
    assert services()["redis"]["command"] == ["redis-server", "/usr/local/etc/redis/redis.conf"]
    conf = (REPO_ROOT / "redis" / "redis.conf").read_text().split("\n")
    # Every served INCR is on disk: no views value is served twice after a crash.
    assert "appendonly yes" in conf and "appendfsync always" in conf


def test_secrets_are_written_once_and_each_service_reads_only_its_own() -> None:
    assert volume_mounts("secrets")[SECRETS_MOUNT] == ("secrets", "rw")
    for name in services():
        if name == "secrets":
            continue
        mounts = {
            target: spec for target, spec in volume_mounts(name).items() if spec[0].startswith("secrets")
        }
        for target, (source, mode) in mounts.items():
            # One file each, read-only, at the path its *_FILE variable names.
            assert mode == "ro" and target == f"{SECRETS_MOUNT}/{source.removeprefix('secrets/')}", name
        files = {variable: value for variable, value in (services()[name].get("environment") or {}).items()}
        for variable, value in files.items():
            if variable.endswith("_FILE"):
                assert value in mounts, f"{name}: {variable} names a file it does not mount"
    # The API never sees the owner's password.
    assert f"{SECRETS_MOUNT}/{DB_SECRET}" not in volume_mounts("api")
    assert not any(source.startswith("secrets") for source, _ in volume_mounts("proxy").values())


SENSITIVE = re.compile(r"PASSWORD|SECRET|TOKEN|PASSPHRASE|API_KEY", re.IGNORECASE)


@pytest.mark.parametrize("name", [*LONG_RUNNING, *ONE_SHOTS])
def test_no_secret_value_in_the_environment(name: str) -> None:
    for key, value in (services()[name].get("environment") or {}).items():
        if SENSITIVE.search(key):
            assert key.endswith("_FILE"), f"{name}: {key} must be a *_FILE variable"
            assert str(value).startswith(SECRETS_MOUNT + "/"), f"{name}: {key}={value}"


def test_the_edge_environment_defines_the_template_variables() -> None:
    placeholders = set(re.findall(r"\$\{([A-Z_]+)\}", TEMPLATE.read_text()))
    environment = services()["proxy"]["environment"]
    # NGINX_LOCAL_RESOLVERS comes from the image's 15-local-resolvers.envsh;
    # NGINX_ENTRYPOINT_* and NGINX_ENVSUBST_* steer the image's entrypoint.
    assert environment["NGINX_ENTRYPOINT_LOCAL_RESOLVERS"]
    entrypoint_settings = {
        key for key in environment if key.startswith(("NGINX_ENTRYPOINT_", "NGINX_ENVSUBST_"))
    }
    assert placeholders - {"NGINX_LOCAL_RESOLVERS"} == set(environment) - entrypoint_settings
    assert environment["API_UPSTREAM"] == "api:8000"


def test_nginx_includes_what_the_entrypoint_renders_into_a_writable_path() -> None:
    proxy = services()["proxy"]
    output_dir = proxy["environment"]["NGINX_ENVSUBST_OUTPUT_DIR"]
    assert output_dir in proxy["tmpfs"]
    assert f"include {output_dir}/*.conf;" in (REPO_ROOT / "nginx" / "nginx.conf").read_text()


def test_every_interpolated_variable_is_documented_in_env_example() -> None:
    used = set(re.findall(r"\$\{([A-Z_]+)(?::?-[^}]*)?\}", (REPO_ROOT / "docker-compose.yml").read_text()))
    example = (REPO_ROOT / ".env.example").read_text()
    documented = set(re.findall(r"^#?\s*([A-Z_]+)=", example, re.MULTILINE))
    assert used <= documented, used - documented
