"""The edge and the processes of the running native stack, seen from outside."""

import json
import os
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT
from tests.e2e.conftest import start_stack
from tests.e2e.driver import API_URL, PAGE_URL, StackDriver


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StackDriver]:
    yield from start_stack(tmp_path_factory.mktemp("edge") / "state")


def fetch(url: str, method: str = "GET") -> tuple[int, dict[str, str], bytes]:
    request = urllib.request.Request(url, method=method)
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


def test_page_is_served_with_security_and_cache_headers(stack: StackDriver) -> None:
    status, headers, body = fetch(PAGE_URL)
    assert status == 200
    assert body == (REPO_ROOT / "frontend" / "index.html").read_bytes()
    assert headers["Content-Type"] == "text/html; charset=utf-8"
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["X-Frame-Options"] == "DENY"
    assert headers["Referrer-Policy"] == "no-referrer"
    assert headers["Cache-Control"] == "no-cache"
    assert headers["Server"] == "nginx"  # no version


@pytest.mark.parametrize("path", ["/app/main.py", "/.env", "/.git/config", "/frontend/index.html", "/nope"])
def test_nothing_but_the_page_is_served(stack: StackDriver, path: str) -> None:
    status, _, body = fetch(PAGE_URL.rstrip("/") + path)
    assert status == 404
    assert b"import" not in body and b"[core]" not in body


def test_the_page_only_answers_get(stack: StackDriver) -> None:
    assert fetch(PAGE_URL, method="POST")[0] == 403


def test_api_answers_are_never_cached(stack: StackDriver) -> None:
    status, headers, body = fetch(API_URL)
    assert status == 200 and isinstance(json.loads(body), list)
    assert headers["Cache-Control"] == "no-store"
    assert headers["X-Content-Type-Options"] == "nosniff"


def test_api_down_the_edge_answers_503_json_at_once(stack: StackDriver) -> None:
    stack.stop("api")
    try:
        status, headers, body = fetch(API_URL)
        assert status == 503
        assert headers["Content-Type"] == "application/json"
        assert json.loads(body) == {"detail": "api unavailable"}
        assert fetch(PAGE_URL)[0] == 200
    finally:
        stack.start("api")
    assert fetch(API_URL)[0] == 200


def test_make_ps_reports_every_service_healthy(stack: StackDriver) -> None:
    rows = [line.split() for line in stack.make("ps").splitlines()[1:]]
    assert {row[0]: row[1] for row in rows} == dict.fromkeys(("db", "redis", "api", "proxy"), "healthy")


def _uid_and_parent(pid: int) -> tuple[int, int]:
    status = Path(f"/proc/{pid}/status").read_text().splitlines()
    fields = {line.split(":")[0]: line.split(":")[1].split() for line in status}
    return int(fields["Uid"][1]), int(fields["PPid"][0])


def test_no_process_of_the_stack_runs_as_root(stack: StackDriver) -> None:
    roots = {int(row.split()[2]) for row in stack.make("ps").splitlines()[1:]}
    processes = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                processes[int(entry)] = _uid_and_parent(int(entry))
            except (OSError, KeyError, IndexError):
                continue
    # The services' main processes and every descendant (workers, backends).
    tree, frontier = set(roots), set(roots)
    while frontier:
        frontier = {pid for pid, (_, parent) in processes.items() if parent in frontier} - tree
        tree |= frontier
    assert len(tree) > len(roots)  # workers were found
    offenders = {pid: Path(f"/proc/{pid}/cmdline").read_bytes() for pid in tree if processes[pid][0] == 0}
    assert offenders == {}
