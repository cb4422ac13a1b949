"""The engine itself stops and starts again (a host reboot): every service
comes back by itself, healthy, with its data, and PostgreSQL shut down
cleanly rather than being killed into a crash recovery."""

import os
import subprocess
import time

import pytest

from bench.driver import REPO_ROOT, StackDriver
from tests.e2e.test_operations import next_views

pytestmark = pytest.mark.skipif(
    os.environ.get("TESTS_OWN_ENGINE") != "1", reason="restarts the tests' own engine only, never a user's"
)

ENGINE = REPO_ROOT / "tests" / "engine" / "engine.sh"
STUDENTS = "SELECT string_agg(id || ':' || nom, ',' ORDER BY id) FROM students;"
BACK_WITHIN_S = 120


def test_after_the_engine_restarts_the_stack_comes_back_by_itself(stack: StackDriver) -> None:
    students, views = stack.psql(STUDENTS), next_views()
    subprocess.run([ENGINE, "stop"], check=True, timeout=180)
    subprocess.run([ENGINE, "start"], check=True, timeout=120)
    deadline = time.monotonic() + BACK_WITHIN_S
    while not stack.healthy():  # no `up`: the restart policies alone
        assert time.monotonic() < deadline, stack.compose("ps", "--all")
        time.sleep(1)
    assert stack.psql(STUDENTS) == students
    assert next_views() > views
    # What PostgreSQL said when it started again (the container's log
    # holds both runs): a clean shutdown checkpoint, no recovery.
    started_again = stack.compose("logs", "--no-log-prefix", "db").rsplit("starting PostgreSQL", 1)[-1]
    assert "database system was shut down at" in started_again, started_again
    assert "not properly shut down" not in started_again
