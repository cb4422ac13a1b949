"""The edge and the processes of the running stack, seen from outside."""

import json
import re
import socket
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from bench.driver import API_URL, LONG_RUNNING, PAGE_URL, StackDriver
from tests.conftest import REPO_ROOT


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


def test_the_edge_serves_the_page_before_anything_else_runs(stack: StackDriver) -> None:
    """The edge waits for no other service: the page is up while the
    database, the migrate step and the API are not (yet, or ever)."""
    stack.down()
    try:
        stack.start("proxy")
        status, _, body = fetch(PAGE_URL)
        assert status == 200 and body == (REPO_ROOT / "frontend" / "index.html").read_bytes()
        status, headers, body = fetch(API_URL)
        assert status == 503 and headers["Content-Type"] == "application/json"
    finally:
        stack.up()
    assert fetch(API_URL)[0] == 200


def api_connections(stack: StackDriver) -> set[str]:
    """The kernel's inodes of the connections the API holds open (its side)."""
    table = stack.compose("exec", "-T", "api", "cat", "/proc/net/tcp", "/proc/net/tcp6")
    # sl local_address rem_address st ... inode: established (01) on port 8000 (1F40).
    rows = [line.split() for line in table.splitlines()]
    return {row[9] for row in rows if row[1].endswith(":1F40") and row[3] == "01"}


def test_the_edge_keeps_its_connections_to_the_api_open(stack: StackDriver) -> None:
    """Requests one after another go through the same edge-to-API connection:
    without keepalive each one would open (and close) its own."""
    for _ in range(10):
        assert fetch(API_URL)[0] == 200
    open_after_first = api_connections(stack)
    for _ in range(10):
        assert fetch(API_URL)[0] == 200
    assert open_after_first & api_connections(stack)


def edge_workers_limits(stack: StackDriver) -> list[str]:
    """/proc/<pid>/limits of each nginx worker process, read in the container."""
    each_worker = (
        "for p in /proc/[0-9]*; do [ \"$(head -c 21 $p/cmdline 2>/dev/null)\" = 'nginx: worker process' ]"
        " && { cat $p/limits; echo '--'; }; done; true"
    )
    return [
        text for text in stack.compose("exec", "-T", "proxy", "sh", "-c", each_worker).split("--\n") if text
    ]


def nginx_directive(name: str) -> int:
    found = re.search(rf"^{name} (\d+);", (REPO_ROOT / "nginx" / "nginx.conf").read_text(), re.MULTILINE)
    assert found is not None, name  # a number (worker_processes: not `auto`, the host's cores)
    return int(found.group(1))


def test_the_edge_runs_the_pinned_worker_count_whatever_the_host_cores(stack: StackDriver) -> None:
    assert len(edge_workers_limits(stack)) == nginx_directive("worker_processes")


def test_each_edge_worker_may_open_the_files_its_connections_need(stack: StackDriver) -> None:
    """worker_rlimit_nofile only raises the soft limit up to the hard one,
    which the container (compose's ulimits) or the machine sets."""
    wanted = nginx_directive("worker_rlimit_nofile")
    for limits in edge_workers_limits(stack):
        soft = re.search(r"^Max open files\s+(\d+)", limits, re.MULTILINE)
        assert soft is not None and int(soft.group(1)) == wanted, limits


def test_make_ps_reports_every_service_healthy(stack: StackDriver) -> None:
    rows = {row.split()[0]: row for row in stack.make("ps").splitlines()[1:] if row.strip()}
    for service in LONG_RUNNING:
        (name,) = [name for name in rows if name.endswith(f"-{service}-1")]
        assert "(healthy)" in rows[name], rows[name]


def raw_exchange(port: int, request: bytes, wait_s: float = 8.0) -> bytes:
    """Send bytes as they are (no client-side normalisation); all that comes back."""
    with socket.create_connection(("127.0.0.1", port), timeout=wait_s) as sock:
        sock.sendall(request)
        received = b""
        try:
            while chunk := sock.recv(65536):
                received += chunk
        except (TimeoutError, ConnectionResetError):
            pass  # a reset is a closed connection too (reset_timedout_connection)
    return received


def status_of(answer: bytes) -> int | None:
    """The HTTP status, or None for a connection closed without an answer."""
    if not answer:
        return None
    return int(answer.split(b" ", 2)[1])


LEAKS = (b"root:x:0:0", b"[core]", b"POSTGRES", b"PASSWORD", b"import ", b"Traceback")

HOSTILE_REQUESTS = {
    "traversal": b"GET /../../../etc/passwd HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    "encoded traversal": b"GET /%2e%2e/%2e%2e/etc/passwd HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    "encoded slashes": b"GET /..%2f..%2fetc%2fpasswd HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    "hidden git": b"GET /.git/config HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    "hidden env": b"GET /.env HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    "null byte": b"GET /index.html%00.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    "huge header": b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 20000 + b"\r\nConnection: close\r\n\r\n",
    "huge body": b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 65536\r\nConnection: close\r\n\r\n"
    + b"a" * 65536,
    "unknown method": b"FOO / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    "trace": b"TRACE / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    "garbage": b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03 not http\r\n\r\n",
}


@pytest.mark.parametrize("port", [8080, 8000])
@pytest.mark.parametrize("kind", list(HOSTILE_REQUESTS))
def test_hostile_requests_get_a_4xx_or_a_closed_connection(stack: StackDriver, port: int, kind: str) -> None:
    answer = raw_exchange(port, HOSTILE_REQUESTS[kind])
    status = status_of(answer)
    assert status is None or 400 <= status < 500, f"{kind} on {port}: {answer[:200]!r}"
    assert not any(leak in answer for leak in LEAKS), f"{kind} on {port}: {answer[:500]!r}"


EDGE_ERRORS = {
    "no host": (b"GET / HTTP/1.1\r\nConnection: close\r\n\r\n", 400),
    "long request line": (b"GET /" + b"a" * 9000 + b" HTTP/1.1\r\nHost: x\r\n\r\n", 414),
    "large headers": (b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 9000 + b"\r\n\r\n", 400),
    "large body": (b"GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 2048\r\n\r\n" + b"a" * 2048, 413),
    "unknown transfer coding": (b"GET / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n", 501),
    "unknown version": (b"GET / HTTP/3.0\r\nHost: x\r\n\r\n", 505),
}


@pytest.mark.parametrize("kind", list(EDGE_ERRORS))
def test_every_error_the_edge_makes_on_the_api_port_is_json(stack: StackDriver, kind: str) -> None:
    request, expected = EDGE_ERRORS[kind]
    answer = raw_exchange(8000, request)
    head, _, body = answer.partition(b"\r\n\r\n")
    assert status_of(answer) == expected, answer[:300]
    assert b"\r\ncontent-type: application/json" in head.lower(), answer[:300]
    assert set(json.loads(body)) == {"detail"}


@pytest.mark.parametrize("port", [8080, 8000])
def test_a_slow_client_is_cut_off(stack: StackDriver, port: int) -> None:
    started = time.monotonic()
    answer = raw_exchange(port, b"GET / HTTP/1.1\r\nHost: x\r\n", wait_s=15)  # never ends its headers
    assert time.monotonic() - started < 12  # client_header_timeout 5s, not the 60s default
    assert status_of(answer) in (None, 408)


def test_no_generated_input_makes_the_api_fail(stack: StackDriver, tmp_path: Path) -> None:
    """Schemathesis generates requests from the API's own OpenAPI document
    (valid and invalid, unexpected methods included): none may get a 5xx."""
    result = subprocess.run(
        [
            str(REPO_ROOT / ".venv" / "bin" / "schemathesis"),
            "run",
            API_URL + "openapi.json",
            "--checks",
            "not_a_server_error",
            "--max-examples",
            "30",
            "--report-dir",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert "No issues found" in result.stdout or "passed" in result.stdout, result.stdout[-2000:]


def views_now() -> int:
    status, _, body = fetch(API_URL)
    assert status == 200, body
    return int(json.loads(body)[0]["views"])


CONTROL_BYTES = {"ESC": b"\x1b", "BEL": b"\x07", "DEL": b"\x7f", "SOH": b"\x01"}


@pytest.mark.parametrize("header", [b"User-Agent", b"Origin", b"X-Anything"])
@pytest.mark.parametrize("control", list(CONTROL_BYTES))
def test_a_control_byte_in_a_header_gets_json_and_no_api_warning(
    stack: StackDriver, header: bytes, control: str
) -> None:
    """nginx accepts these bytes in a header value and uvicorn does not: the
    edge passes on only the headers the API reads, and those only printable."""
    logs_before = stack.logs()
    value = b"a" + CONTROL_BYTES[control] + b"b"
    request = b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n" + header + b": " + value + b"\r\n\r\n"
    answer = raw_exchange(8000, request)
    head, _, body = answer.partition(b"\r\n\r\n")
    assert b"\r\ncontent-type: application/json" in head.lower(), answer[:300]
    assert status_of(answer) == 200 and isinstance(json.loads(body), list), answer[:300]
    assert stack.logs().count(b"Invalid HTTP request") == logs_before.count(b"Invalid HTTP request")


@pytest.mark.parametrize("byte", [b"\x80", b"\xff", b"\xc3\xa9"])
def test_a_raw_non_ascii_byte_in_the_target_gets_a_json_400(stack: StackDriver, byte: bytes) -> None:
    """A request target must be ASCII (RFC 9112 3.2, percent-encode the
    rest): the edge refuses it in JSON instead of passing it to uvicorn."""
    for target in (b"/" + byte, b"/?after=" + byte):
        answer = raw_exchange(8000, b"GET " + target + b" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        head, _, body = answer.partition(b"\r\n\r\n")
        assert status_of(answer) == 400, answer[:300]
        assert b"\r\ncontent-type: application/json" in head.lower() and json.loads(body), answer[:300]


def test_http_0_9_gets_no_data_and_counts_no_view(stack: StackDriver) -> None:
    before = views_now()
    answer = raw_exchange(8000, b"GET /\r\n", 3)
    assert b'"nom"' not in answer, answer[:300]
    assert views_now() == before + 1


def test_head_answers_like_get_without_a_body_or_a_view(stack: StackDriver) -> None:
    before = views_now()
    for url in (API_URL, API_URL + "healthz", API_URL + "readyz"):
        status, headers, body = fetch(url, method="HEAD")
        assert (status, body) == (200, b""), url
        assert headers["Content-Type"] == "application/json", url
    assert views_now() == before + 1
