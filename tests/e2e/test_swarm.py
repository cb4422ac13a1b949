"""The stack on a real one-node Docker Swarm (make test-swarm).

Deployed by deploy/swarm/swarm.sh under its own stack name, removed with its
volumes and secrets afterwards. Under constant load through the edge: a
rolling update of the api must cost no error and no request over 1 s; a task
killed, only the responses it was writing at that instant.
"""

import asyncio
import json
import os
import re
import subprocess
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Page

from app.init_secrets import DB_SECRET
from bench.driver import API_URL
from bench.load import CUT, Answer, burst, run_apart
from tests.conftest import REPO_ROOT
from tests.e2e.dashboard import numeric_views, open_dashboard

pytestmark = pytest.mark.swarm

STACK = "sd-swarm-test"
REPLICAS = 3
CONNECTIONS = 16
SLOWEST_ACCEPTABLE_S = 1.0


def swarm(
    command: str, check: bool = True, compose_file: str | None = None
) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "STACK": STACK, "API_REPLICAS": str(REPLICAS)}
    if compose_file is not None:
        env["COMPOSE_FILE"] = compose_file
    return subprocess.run(
        ["deploy/swarm/swarm.sh", command],
        cwd=REPO_ROOT,
        env=env,
        check=check,
        capture_output=not check,
        text=True,
    )


def docker(*args: str) -> str:
    return subprocess.run(["docker", *args], capture_output=True, text=True, check=True, timeout=120).stdout


def swarm_state() -> str:
    return docker("info", "--format", "{{.Swarm.LocalNodeState}}").strip()


@pytest.fixture(scope="module")
def stack() -> Iterator[None]:
    state_before = swarm_state()
    try:
        swarm("up")  # inside: a failed deploy is cleaned up too
        yield
    finally:
        swarm("clean")
    # The engine is left as found: in a swarm or not, without this stack.
    assert swarm_state() == state_before
    if state_before == "active":
        assert STACK not in docker("stack", "ls", "--format", "{{.Name}}").split()
        assert not docker("secret", "ls", "-q", "--filter", f"name={STACK}_")
    assert not docker("volume", "ls", "-q", "--filter", f"name={STACK}_")


def running_api_tasks() -> dict[str, str]:
    """Task id -> current state ("Running 5 seconds ago"), of the tasks meant to run."""
    rows = docker(
        "service",
        "ps",
        f"{STACK}_api",
        "--filter",
        "desired-state=running",
        "--format",
        "{{.ID}} {{.CurrentState}}",
    )
    return dict(row.split(" ", 1) for row in rows.splitlines())


def wait_for_replicas(seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        states = running_api_tasks().values()
        if len(states) == REPLICAS and all(state.startswith("Running ") for state in states):
            return
        time.sleep(1)
    raise AssertionError(f"api tasks: {running_api_tasks()}")


def load_during(action: list[str], settle: float = 4.0) -> list[Answer | str]:
    """Constant load on GET / through the edge while `action` runs (a docker
    command), plus `settle` seconds before and after it."""
    result: dict[str, float] = {}

    async def run_action() -> None:
        started = time.monotonic()
        process = await asyncio.create_subprocess_exec(*action, stdout=subprocess.DEVNULL)
        await process.wait()
        result["seconds"] = time.monotonic() - started

    async def scenario() -> list[Answer | str]:
        answers: list[Answer | str] = []
        load = asyncio.create_task(_load_until(answers, stop := asyncio.Event()))
        await asyncio.sleep(settle)
        await run_action()
        await asyncio.sleep(settle)
        stop.set()
        await load
        return answers

    answers = run_apart(scenario())
    report(" ".join(action[:3]), answers, result["seconds"])
    return answers


async def _load_until(answers: list[Answer | str], stop: asyncio.Event) -> None:
    # burst() runs for a fixed time; here the action decides: long bursts
    # back to back until told to stop.
    while not stop.is_set():
        answers += await burst(API_URL, CONNECTIONS, 1.0, [])


def report(what: str, answers: list[Answer | str], action_seconds: float) -> None:
    timed = sorted(a.seconds for a in answers if isinstance(a, Answer))
    statuses = Counter(a.status for a in answers if isinstance(a, Answer))
    errors = [a for a in answers if not isinstance(a, Answer)]
    print(
        f"\n{what}: {len(answers)} requests in {action_seconds:.1f}s of action (+ settle), "
        f"statuses {dict(statuses)}, socket errors {len(errors)}, "
        f"median {timed[len(timed) // 2] * 1000:.1f} ms, "
        f"p99 {timed[int(len(timed) * 0.99)] * 1000:.1f} ms, max {timed[-1] * 1000:.1f} ms"
    )


def assert_no_failure(answers: list[Answer | str], cut_allowed: int = 0) -> None:
    """Every answer a 200 within SLOWEST_ACCEPTABLE_S; no transport error but
    at most `cut_allowed` responses cut after their headers."""
    served = [a for a in answers if isinstance(a, Answer)]
    errors = [a for a in answers if not isinstance(a, Answer)]
    cut = [e for e in errors if e.startswith(CUT)]
    assert not set(errors) - set(cut), [e for e in errors if e not in cut][:5]
    assert len(cut) <= cut_allowed, cut
    assert Counter(a.status for a in served) == {200: len(served)}
    slowest = max(a.seconds for a in served)
    assert slowest < SLOWEST_ACCEPTABLE_S, f"slowest request: {slowest:.3f}s"


def test_the_dashboard_works_in_chromium(stack: None, page: Page) -> None:
    open_dashboard(page)
    assert numeric_views(page) >= 1


def test_the_api_runs_its_replicas_and_the_edge_spreads_the_load(stack: None) -> None:
    wait_for_replicas()
    # The edge trusts a DNS answer this long (resolver valid=2s in
    # nginx/default.conf.template): then it knows every replica.
    time.sleep(2.5)
    since = docker("info", "--format", "{{.SystemTime}}").strip()
    answers = run_apart(burst(API_URL, CONNECTIONS, 3.0, []))
    assert_no_failure(answers)
    logs = docker("service", "logs", "--raw", "--since", since, f"{STACK}_proxy")
    # A request the edge tried twice names both addresses: the last one answered.
    served_by = Counter(
        re.split(r", | : ", line["upstream"])[-1]
        for line in map(json.loads, filter(lambda text: text.startswith("{"), logs.splitlines()))
        if (line["method"], line["uri"], line["status"]) == ("GET", "/", 200)
    )
    print(f"\nrequests per api task: {dict(served_by)}")
    assert len(served_by) == REPLICAS
    assert min(served_by.values()) > 0.15 * sum(served_by.values())


def test_no_task_reads_a_file_of_a_nodes_checkout(stack: None) -> None:
    """Every file Compose bind-mounts from the checkout reaches the tasks as
    a Docker config: the same bytes on any node."""
    services = docker("service", "ls", "-q", "--filter", f"label=com.docker.stack.namespace={STACK}").split()
    specs = {
        spec["Spec"]["Name"]: spec["Spec"]["TaskTemplate"]["ContainerSpec"]
        for spec in json.loads(docker("service", "inspect", *services))
    }
    binds = [
        (name, mount)
        for name, spec in specs.items()
        for mount in spec.get("Mounts", [])
        if mount["Type"] == "bind"
    ]
    assert not binds, binds
    mounted = {
        name.removeprefix(f"{STACK}_"): {c["File"]["Name"] for c in spec.get("Configs", [])}
        for name, spec in specs.items()
    }
    sql_files = {path.name for path in (REPO_ROOT / "sqlfiles").glob("*.sql")}
    assert {Path(target).name for target in mounted["db"]} == sql_files
    assert mounted["proxy"] == {
        "/etc/nginx/nginx.conf",
        "/etc/nginx/templates/conf.d/default.conf.template",
        "/usr/share/nginx/html/index.html",
    }
    assert mounted["redis"] == {"/usr/local/etc/redis/redis.conf"}


def service_configs() -> dict[str, set[str]]:
    services = docker("service", "ls", "-q", "--filter", f"label=com.docker.stack.namespace={STACK}").split()
    return {
        spec["Spec"]["Name"].removeprefix(f"{STACK}_"): {
            config["ConfigName"]
            for config in spec["Spec"]["TaskTemplate"]["ContainerSpec"].get("Configs", [])
        }
        for spec in json.loads(docker("service", "inspect", *services))
    }


def stack_configs() -> set[str]:
    names = docker(
        "config", "ls", "--filter", f"label=com.docker.stack.namespace={STACK}", "--format", "{{.Name}}"
    )
    return set(names.split())


def redis_container() -> str:
    (container,) = docker(
        "ps", "-q", "--filter", f"label=com.docker.swarm.service.name={STACK}_redis"
    ).split()
    return container


def test_a_changed_file_reaches_its_tasks_and_its_old_config_goes(stack: None, tmp_path: Path) -> None:
    """A file changed in the checkout (here redis.conf, through an override:
    Compose merges mounts by their target) is a new config on the next
    swarm-up: the task that reads it is replaced, the old config removed."""
    changed = tmp_path / "redis.conf"
    changed.write_text((REPO_ROOT / "redis" / "redis.conf").read_text() + "# changed by the swarm tier\n")
    override = tmp_path / "compose.override.yml"
    override.write_text(
        f"services:\n  redis:\n    volumes:\n      - {changed}:/usr/local/etc/redis/redis.conf:ro\n"
    )
    before, task_before = service_configs(), redis_container()
    base = os.environ.get("COMPOSE_FILE", "docker-compose.yml")
    try:
        swarm("up", compose_file=f"{base}:{override}")
        after = service_configs()
        assert after["redis"] != before["redis"] and after["proxy"] == before["proxy"]
        assert redis_container() != task_before, "the redis task was not replaced"
        assert stack_configs() == set().union(*after.values()), "the old config is still there"
    finally:
        swarm("up")
    assert service_configs() == before


def test_a_rolling_update_under_load_fails_no_request(stack: None) -> None:
    wait_for_replicas()
    before = set(running_api_tasks())
    answers = load_during(["docker", "service", "update", "--force", "--quiet", f"{STACK}_api"])
    assert_no_failure(answers)
    wait_for_replicas()
    assert not before & set(running_api_tasks()), "every task was replaced"
    assert update_state() == "completed"


def update_state() -> str:
    return docker("service", "inspect", "--format", "{{.UpdateStatus.State}}", f"{STACK}_api").strip()


def test_a_failing_update_rolls_back_under_load(stack: None) -> None:
    wait_for_replicas()
    before = set(running_api_tasks())
    # API_WORKERS=0 fails the settings' validation: the new task exits at once.
    answers = load_during(
        ["docker", "service", "update", "--quiet", "--env-add", "API_WORKERS=0", f"{STACK}_api"]
    )
    assert_no_failure(answers)
    deadline = time.monotonic() + 60
    while update_state() != "rollback_completed":
        assert time.monotonic() < deadline, update_state()
        time.sleep(1)
    environment = docker(
        "service", "inspect", "--format", "{{json .Spec.TaskTemplate.ContainerSpec.Env}}", f"{STACK}_api"
    )
    assert "API_WORKERS=0" not in environment
    wait_for_replicas()
    # start-first: the old tasks served throughout, and are still the ones running.
    assert set(running_api_tasks()) == before


def test_a_killed_api_task_is_replaced_under_load(stack: None) -> None:
    wait_for_replicas()
    victim = docker("ps", "-q", "--filter", f"label=com.docker.swarm.service.name={STACK}_api").split()[0]
    workers = api_workers(victim)
    answers = load_during(["docker", "kill", "--signal", "KILL", victim])
    # nginx sends a request the dead task never answered to another one. A
    # response the task had begun to write is lost with it: uvicorn writes the
    # headers, then the body, and nginx has passed the headers on. Each worker
    # process writes one response at a time, so at most one per worker.
    assert_no_failure(answers, cut_allowed=workers)
    wait_for_replicas()
    assert victim not in docker("ps", "-q", "--filter", f"label=com.docker.swarm.service.name={STACK}_api")


def api_workers(container: str) -> int:
    environment = json.loads(docker("inspect", "--format", "{{json .Config.Env}}", container))
    return int(dict(entry.split("=", 1) for entry in environment)["API_WORKERS"])


def test_without_redis_the_views_are_absent_not_errors(stack: None) -> None:
    docker("service", "scale", "--detach", f"{STACK}_redis=0")
    try:
        deadline = time.monotonic() + 30
        while docker("ps", "-q", "--filter", f"label=com.docker.swarm.service.name={STACK}_redis"):
            assert time.monotonic() < deadline, "redis is still running"
            time.sleep(0.5)
        answers = run_apart(burst(API_URL, CONNECTIONS, 2.0, []))
        assert_no_failure(answers)
        students = httpx.get(API_URL, timeout=5).json()
        assert students and all("views" not in student for student in students)
    finally:
        docker("service", "scale", "--detach", f"{STACK}_redis=1")
    deadline = time.monotonic() + 60
    while "views" not in httpx.get(API_URL, timeout=5).json()[0]:
        assert time.monotonic() < deadline, "the views did not come back"
        time.sleep(1)


def stack_secrets() -> dict[str, str]:
    rows = docker("secret", "ls", "--filter", f"name={STACK}_", "--format", "{{.Name}} {{.ID}}")
    return dict(row.split() for row in rows.splitlines())


def test_a_node_without_the_secret_files_deploys_with_the_docker_secrets(stack: None) -> None:
    """swarm-up on a manager that holds no copy of the secret files (they live
    in a volume of the node that first ran it; here that volume is removed)
    makes no new password: the Docker secrets stay as they are, and it says so."""
    before, volume, kept = stack_secrets(), f"{STACK}_secrets", f"{STACK}_secrets-kept"
    copy_secret_files(volume, kept)
    docker("volume", "rm", volume)
    try:
        up = swarm("up", check=False)
        assert up.returncode == 0, up.stderr
        assert "holds no copy" in up.stderr, up.stderr
        assert stack_secrets() == before
        assert volume not in docker("volume", "ls", "-q").split()
        assert "views" in httpx.get(API_URL, timeout=5).json()[0]
    finally:
        # The files back, for the next test (this node is the first one again).
        docker("volume", "rm", "--force", volume)
        copy_secret_files(kept, volume)
        docker("volume", "rm", kept)


def copy_secret_files(source: str, destination: str) -> None:
    """As the api image's user: a new volume mounted at the image's secrets
    folder takes its owner, as the generator's does."""
    api_image = json.loads(docker("compose", "config", "--format", "json"))["services"]["api"]["image"]
    secrets = "/run/dashboard-secrets"
    mounts = ["-v", f"{source}:/from:ro", "-v", f"{destination}:{secrets}"]
    docker("run", "--rm", *mounts, "--entrypoint", "sh", api_image, "-c", f"cp -a /from/. {secrets}/")


def test_a_lost_owner_password_stops_the_next_deploy_and_keeps_the_data(stack: None) -> None:
    """Last: it takes the stack down. The secrets volume loses db_password
    while the database's volume stays (a swarm that swarm-up created is left,
    and its Docker secrets with it): swarm-up makes no new owner password for
    the initialised database, and says so."""
    swarm("down")
    api_image = json.loads(docker("compose", "config", "--format", "json"))["services"]["api"]["image"]
    secrets = "/run/dashboard-secrets"
    remove = f"chmod u+w {secrets}/{DB_SECRET} && rm {secrets}/{DB_SECRET}"
    docker("run", "--rm", "-v", f"{STACK}_secrets:{secrets}", "--entrypoint", "sh", api_image, "-c", remove)
    up = swarm("up", check=False)
    assert up.returncode != 0
    assert "none is made" in up.stderr, up.stderr
    assert docker("volume", "ls", "-q", "--filter", f"name={STACK}_db-data").split() == [f"{STACK}_db-data"]
