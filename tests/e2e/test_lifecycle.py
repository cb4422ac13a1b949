"""Every long-running service through every lifecycle event an operator or
a fault puts it through, on the real containers: the stack comes back by
itself, and the counter neither repeats nor goes back across it (Redis
answers an INCR only once it is in the AOF on disk, `appendfsync always`: a
Redis crash or restart loses no value served).

Docker changes things between a container's first start and its later ones
(a tmpfs's mode, a file left in the writable layer): only a restart shows them.
"""

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import httpx
import pytest

from bench.driver import API_URL, LONG_RUNNING, PAGE_URL, StackDriver
from bench.timeline import Sample
from tests.e2e.test_faults import assert_served_values_only_grow

# "No hang": the stack answers again, with views, this soon after the event.
BACK_WITHIN_S = 30.0
PAUSED_FOR_S = 1.0


def restart(stack: StackDriver, service: str) -> None:
    stack.restart(service)


def crash(stack: StackDriver, service: str) -> None:
    """SIGKILL of the service's process: the restart policy brings it back."""
    stack.kill(service)


def stop_start(stack: StackDriver, service: str) -> None:
    stack.stop(service)
    stack.start(service)


def pause_unpause(stack: StackDriver, service: str) -> None:
    stack.pause(service)
    time.sleep(PAUSED_FOR_S)
    stack.unpause(service)


EVENTS: dict[str, Callable[[StackDriver, str], None]] = {
    "restart": restart,
    "crash": crash,
    "stop-start": stop_start,
    "pause-unpause": pause_unpause,
}


@dataclass
class Traffic:
    """GET / from a few clients in a thread, until stopped."""

    clients: int = 2
    samples: list[Sample] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _threads: list[threading.Thread] = field(default_factory=list)
    _start: float = field(default_factory=time.perf_counter)

    def __enter__(self) -> "Traffic":
        self._threads = [threading.Thread(target=self._client, daemon=True) for _ in range(self.clients)]
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=10)

    def _client(self) -> None:
        with httpx.Client(timeout=5) as http:
            while not self._stop.is_set():
                sent = time.perf_counter()
                try:
                    response = http.get(API_URL)
                    status = response.status_code
                    body = response.json() if status == 200 else None
                    views = body[0].get("views") if body else None
                except (httpx.HTTPError, ValueError):
                    status, views = 0, None
                    time.sleep(0.05)  # a refused connection returns at once
                done = time.perf_counter()
                self.samples.append(Sample(sent - self._start, (done - sent) * 1000, status, views))

    def now(self) -> float:
        return time.perf_counter() - self._start


def page_served() -> bool:
    try:
        return httpx.get(PAGE_URL, timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def unhealthy_services(stack: StackDriver) -> dict[str, str]:
    rows = [json.loads(line) for line in stack.compose("ps", "--format", "json").splitlines() if line]
    states = {row["Service"]: row.get("Health") or row["State"] for row in rows}
    found = {service: states.get(service, "missing") for service in LONG_RUNNING}
    return {service: state for service, state in found.items() if state != "healthy"}


def assert_back(stack: StackDriver, traffic: Traffic, event_done_at: float, *, healthy: bool = True) -> None:
    """The page, GET / with views, and (unless told not to) every service
    healthy again, within the bound."""
    deadline = time.monotonic() + BACK_WITHIN_S
    while True:
        counted_since = [s for s in traffic.samples if s.at_s > event_done_at and s.views is not None]
        unhealthy = unhealthy_services(stack) if healthy else {}
        if len(counted_since) >= 5 and page_served() and not unhealthy:
            return
        if time.monotonic() > deadline:
            statuses = sorted({s.status for s in traffic.samples if s.at_s > event_done_at})
            raise AssertionError(
                f"not back {BACK_WITHIN_S:.0f} s after the event: page served {page_served()},"
                f" {len(counted_since)} answers with views, statuses {statuses}, unhealthy {unhealthy}"
            )
        time.sleep(0.5)


def go_through(stack: StackDriver, event: Callable[[], None], *, healthy: bool = True) -> None:
    with Traffic() as traffic:
        time.sleep(0.5)
        event()
        assert_back(stack, traffic, traffic.now(), healthy=healthy)
    assert_served_values_only_grow(traffic.samples)


@pytest.mark.parametrize("event", list(EVENTS))
@pytest.mark.parametrize("service", LONG_RUNNING)
def test_a_service_comes_back_from(stack: StackDriver, service: str, event: str) -> None:
    # Docker marks a paused container unhealthy, and healthy again only at
    # its next check, an interval (10 s) after the unpause: what the stack
    # serves is checked there, not its health.
    go_through(stack, lambda: EVENTS[event](stack, service), healthy=event != "pause-unpause")


def test_the_whole_stack_comes_back_from_a_restart(stack: StackDriver) -> None:
    go_through(stack, stack.restart)
