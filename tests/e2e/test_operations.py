"""What an operator meets in a year, on the real stack: a secret rotation
under load, a lost owner password, a damaged AOF, a scale down under load."""

import json
import subprocess
import time

import pytest

from app.init_secrets import DB_API_SECRET, DB_SECRET, PASSWORD_FILES
from app.settings import Settings
from bench.driver import API_URL, REPO_ROOT, StackDriver
from tests.e2e.test_edge import fetch
from tests.e2e.test_faults import assert_served_values_only_grow
from tests.e2e.test_lifecycle import Traffic

API_ROLE = Settings.model_fields["postgres_api_user"].default
COUNTER_KEY = Settings.model_fields["counter_key"].default


def served_without_fault(traffic: Traffic) -> None:
    """Every answer a 200 with views, none served twice nor going back."""
    assert len(traffic.samples) > 20, "no traffic"
    assert {s.status for s in traffic.samples} == {200}, {s.status for s in traffic.samples}
    without_views = [round(s.at_s, 2) for s in traffic.samples if s.views is None]
    assert not without_views, f"answers without views at {without_views[:10]} s"
    assert_served_values_only_grow(traffic.samples)


def logs_in(stack: StackDriver, role: str, password: bytes) -> bool:
    """Whether PostgreSQL takes this password for this role, from another
    container (as the API connects: inside db's own, the image trusts
    127.0.0.1)."""
    probe = "import psycopg, sys; psycopg.connect(sys.argv[1], password=sys.argv[2])"
    where = f"host=db dbname=dashboard user={role} connect_timeout=5"
    command = ["docker", "compose", "exec", "-T", "api", "python", "-c", probe, where, password.decode()]
    return subprocess.run(command, cwd=REPO_ROOT, env=stack.env, capture_output=True).returncode == 0


def test_rotating_every_secret_under_load_fails_no_request(stack: StackDriver) -> None:
    before = dict(zip(PASSWORD_FILES, stack.secrets(), strict=True))
    with Traffic(clients=4) as traffic:
        time.sleep(1)
        stack.make("rotate-secrets")
        time.sleep(2)  # new connections, with the new passwords only
    served_without_fault(traffic)
    after = dict(zip(PASSWORD_FILES, stack.secrets(), strict=True))
    assert all(before[name] != after[name] for name in PASSWORD_FILES)
    assert not logs_in(stack, API_ROLE, before[DB_API_SECRET]) and logs_in(
        stack, API_ROLE, after[DB_API_SECRET]
    )
    # What restarts next starts with the new ones: the API logs in to both,
    # Redis loads its new ACL, the healthchecks pass.
    stack.restart()
    stack.up()
    assert "views" in json.loads(fetch(API_URL)[2])[0]


def test_no_owner_password_is_made_for_an_initialised_database(stack: StackDriver) -> None:
    """Its file deleted, `make up` stops and says how to recover, and the
    data is untouched; the recovery it prints works."""
    owner = stack.psql("SELECT current_user;").split()[2]
    kept = stack.psql("SELECT count(*) FROM students;")
    stack.make("down")
    remove = "chmod u+w /run/dashboard-secrets/db_password && rm /run/dashboard-secrets/db_password"
    stack.compose("run", "--rm", "--no-deps", "--entrypoint", "sh", "secrets", "-c", remove)
    with pytest.raises(AssertionError, match="none is made") as failure:
        stack.up()
    assert "ALTER ROLE" in str(failure.value)
    new = "recovered-owner-password"
    write = f"umask 0333 && printf %s {new} > /run/dashboard-secrets/{DB_SECRET}"
    stack.compose("run", "--rm", "--no-deps", "--entrypoint", "sh", "secrets", "-c", write)
    stack.compose("up", "--detach", "--wait", "--no-deps", "db")
    stack.psql(f"ALTER ROLE {owner} PASSWORD '{new}';")
    stack.up()
    assert stack.psql("SELECT count(*) FROM students;") == kept


def next_views(seconds: float = 15) -> int:
    """The views of the next answer that carries them (Redis just back: each
    API worker's breaker tries it again after its back-off)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        first = json.loads(fetch(API_URL)[2])[0]
        if "views" in first:
            return int(first["views"])
        time.sleep(0.2)
    raise AssertionError("no views")


def test_a_damaged_aof_is_refused_then_repaired_by_make_redis_check_aof(stack: StackDriver) -> None:
    """Redis refuses an AOF cut short (aof-load-truncated no: it would serve
    a lower count again); the repair cuts the torn command and skips the
    counter ahead, so that no value is served twice."""
    last = next_views()
    stack.make("stop", "SERVICE=redis")
    # The last command's last bytes gone (dd truncates at its seek).
    tear = "f=$(ls /data/appendonlydir/*.incr.aof) && dd if=/dev/null of=$f bs=1 seek=$(($(wc -c < $f) - 3))"
    stack.compose("run", "--rm", "--no-deps", "--entrypoint", "sh", "redis", "-c", tear)
    stack.compose("up", "--detach", "--no-deps", "redis")
    deadline = time.monotonic() + 30
    while "redis-check-aof --fix" not in stack.compose("logs", "--no-log-prefix", "redis"):
        assert time.monotonic() < deadline, "Redis started on a damaged AOF"
        time.sleep(0.5)
    stack.make("redis-check-aof")
    assert next_views() > last


def test_scaling_the_api_down_under_load_fails_no_request(stack: StackDriver) -> None:
    stack.compose("up", "--detach", "--wait", "--no-deps", "--no-recreate", "--scale", "api=2", "api")
    time.sleep(3)  # the edge knows both
    with Traffic(clients=4) as traffic:
        time.sleep(1)
        stack.compose("up", "--detach", "--wait", "--no-deps", "--no-recreate", "--scale", "api=1", "api")
        time.sleep(3)
    served_without_fault(traffic)


# "No hang" for a request the silent replica held: the edge's read timeout
# (1.5 s), then its retry on the other replica, with room for a noisy machine.
SILENT_REPLICA_BOUND_S = 2.5


def test_a_silent_api_replica_costs_no_request_more_than_a_retry(stack: StackDriver) -> None:
    """A replica that takes connections and never answers (a node cut off, a
    frozen container): what it holds is retried on another replica within
    the edge's read timeout, and the edge sends it nothing more for a while."""
    stack.compose("up", "--detach", "--wait", "--no-deps", "--no-recreate", "--scale", "api=2", "api")
    time.sleep(3)  # the edge knows both
    silent = stack.compose("ps", "--quiet", "api").split()[-1]
    clients = 16
    try:
        with Traffic(clients=clients) as traffic:
            time.sleep(1)
            subprocess.run(["docker", "pause", silent], env=stack.env, check=True, capture_output=True)
            time.sleep(6)
    finally:
        subprocess.run(["docker", "unpause", silent], env=stack.env, check=False, capture_output=True)
        stack.compose("up", "--detach", "--wait", "--no-deps", "--no-recreate", "--scale", "api=1", "api")
    # A response the replica was writing at the instant it froze is cut:
    # uvicorn writes the headers, then the body, and the edge has passed the
    # headers on, so it cannot retry it elsewhere. Each worker writes one
    # response at a time: at most one per worker, ended within the bound.
    workers = int(
        json.loads(stack.compose("config", "--format", "json"))["services"]["api"]["environment"][
            "API_WORKERS"
        ]
    )
    cut = [s for s in traffic.samples if s.status == 0]
    assert len(cut) <= workers, f"{len(cut)} answers cut"
    served_without_fault(Traffic(samples=[s for s in traffic.samples if s.status != 0]))
    slowest_s = max(s.latency_ms for s in traffic.samples) / 1000
    assert slowest_s < SILENT_REPLICA_BOUND_S, f"a request took {slowest_s:.1f} s"
    # Each client meets the silent replica about once, not every other request.
    held = [s for s in traffic.samples if s.latency_ms > 500]
    assert len(held) <= 2 * clients, f"{len(held)} requests held by the silent replica"
