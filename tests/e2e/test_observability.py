"""What an operator reads of the running stack: one id per request across the
edge's and the API's JSON logs, and the API's Prometheus metrics, on the
internal network only, with the alert rules written against them."""

import json
import re
import shutil
import subprocess
import uuid
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from bench.driver import API_URL, PAGE_URL, StackDriver
from tests.conftest import REPO_ROOT
from tests.e2e.test_edge import fetch, raw_exchange, status_of

MONITORING = REPO_ROOT / "deploy" / "monitoring"
METRICS_URL = "http://api:9000/metrics"  # from the edge's container: the internal network


def log_lines(stack: StackDriver, service: str) -> list[str]:
    """The service's log lines, without the line-clearing code Compose puts before each."""
    lines = stack.compose("logs", "--no-color", "--no-log-prefix", service).splitlines()
    return [line.removeprefix("\x1b[2K") for line in lines if line.removeprefix("\x1b[2K")]


def json_lines(stack: StackDriver, service: str) -> list[dict[str, object]]:
    """The service's log lines that are JSON objects, parsed (the edge's
    access log is; its entrypoint's and error log's lines are not)."""
    return [json.loads(line) for line in log_lines(stack, service) if line.startswith("{")]


def scrape(stack: StackDriver) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of the API's metrics: (name, labels) -> value, as
    Prometheus would read it from inside the stack's network."""
    text = stack.compose("exec", "-T", "proxy", "wget", "-qO-", METRICS_URL)
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def test_one_request_has_one_id_in_the_edge_and_the_api_logs(stack: StackDriver) -> None:
    request_id = f"operator-{uuid.uuid4().hex}"
    user_agent = b"probe\x1b[31m\x07"
    answer = raw_exchange(
        8000,
        b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\nX-Request-ID: "
        + request_id.encode()
        + b"\r\nUser-Agent: "
        + user_agent
        + b"\r\n\r\n",
    )
    assert status_of(answer) == 200
    assert f"\r\nx-request-id: {request_id}\r\n".encode() in answer.lower()
    (edge,) = [line for line in json_lines(stack, "proxy") if line.get("request_id") == request_id]
    assert edge["status"] == 200 and edge["uri"] == "/"
    # escape=json: the control bytes arrive escaped, not raw in the log.
    assert edge["user_agent"] == user_agent.decode()
    (api,) = [line for line in json_lines(stack, "api") if line.get("request_id") == request_id]
    assert api["logger"] == "app.access" and api["status"] == 200


def test_a_malformed_request_id_is_replaced_by_the_edges_own(stack: StackDriver) -> None:
    response = httpx.get(API_URL, headers={"X-Request-ID": "not an id; with spaces"}, timeout=5)
    assert re.fullmatch(r"[0-9a-f]{32}", response.headers["X-Request-ID"])
    assert fetch(PAGE_URL)[1]["X-Request-ID"]  # the page too


def test_every_line_the_api_logs_is_json(stack: StackDriver) -> None:
    lines = [json.loads(line) for line in log_lines(stack, "api")]
    assert lines and all({"time", "level", "logger", "message", "request_id"} <= set(line) for line in lines)


def requests_counted(samples: dict[tuple[str, tuple[tuple[str, str], ...]], float]) -> float:
    labels = (("method", "GET"), ("route", "/"), ("status", "200"))
    return samples.get(("dashboard_http_requests_total", labels), 0.0)


def test_the_metrics_count_every_request_over_every_worker(stack: StackDriver) -> None:
    before = requests_counted(scrape(stack))
    with ThreadPoolExecutor(8) as pool:
        statuses = list(pool.map(lambda _: fetch(API_URL)[0], range(200)))
    assert statuses == [200] * 200
    assert requests_counted(scrape(stack)) - before == 200


def test_the_metrics_show_a_dependency_down_and_back(stack: StackDriver) -> None:
    stack.stop("redis")
    try:
        for _ in range(20):
            fetch(API_URL)
        down = scrape(stack)
    finally:
        stack.start("redis")
    assert down[("dashboard_dependency_up", (("dependency", "redis"),))] == 0
    assert down[("dashboard_breaker_openings_total", (("dependency", "redis"),))] >= 1
    assert down[("dashboard_views_counter_errors_total", ())] >= 1


@pytest.mark.parametrize("url", [API_URL + "metrics", PAGE_URL + "metrics"])
def test_the_metrics_are_never_reachable_through_the_edge(stack: StackDriver, url: str) -> None:
    status, _, body = fetch(url)
    assert status == 404 and b"dashboard_" not in body


promtool = pytest.mark.skipif(
    shutil.which("promtool") is None, reason="promtool not installed (engine.sh installs it)"
)


@promtool
def test_the_alert_rules_and_the_scrape_configuration_are_valid(stack: StackDriver) -> None:
    for check in (["check", "config", "prometheus.yml"], ["test", "rules", "alerts.test.yml"]):
        result = subprocess.run(["promtool", *check], cwd=MONITORING, capture_output=True, text=True)
        assert result.returncode == 0, result.stdout + result.stderr


def test_every_metric_an_alert_reads_is_exported(stack: StackDriver) -> None:
    exported = {name for name, _ in scrape(stack)}
    rules = (MONITORING / "alerts.yml").read_text()
    named = set(re.findall(r"\b(dashboard_[a-z_]+)", rules))
    assert named and named <= exported, named - exported
