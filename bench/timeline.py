"""Latency of every request over time, and its chart across an outage."""

import asyncio
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import httpx

_VIEWS = re.compile(rb'"views":(\d+)')


@dataclass(frozen=True)
class Sample:
    at_s: float  # since the start of the run
    latency_ms: float
    status: int  # 0: no answer (connection error or timeout)
    views: int | None  # the counter the answer carried, if any


Event = tuple[float, str, Callable[[], Awaitable[None]]]


async def record(url: str, duration_s: float, clients: int, events: list[Event]) -> list[Sample]:
    """`clients` loops sending GET url back to back; events run at their time."""
    samples: list[Sample] = []
    start = time.perf_counter()
    deadline = start + duration_s

    async def client_loop(http: httpx.AsyncClient) -> None:
        while time.perf_counter() < deadline:
            sent = time.perf_counter()
            try:
                response = await http.get(url)
                status = response.status_code
                found = _VIEWS.search(response.content)
                views = int(found.group(1)) if found else None
            except httpx.HTTPError:
                status, views = 0, None
            done = time.perf_counter()
            samples.append(Sample(sent - start, (done - sent) * 1000, status, views))

    async def scheduler() -> None:
        for at, _, action in sorted(events, key=lambda event: event[0]):
            await asyncio.sleep(max(0.0, start + at - time.perf_counter()))
            await action()

    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(timeout=5, limits=limits) as http:
        await asyncio.gather(scheduler(), *(client_loop(http) for _ in range(clients)))
    return sorted(samples, key=lambda sample: sample.at_s)


def chart(samples: list[Sample], events: list[tuple[float, str]], title: str, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axis = plt.subplots(figsize=(10, 4.5), dpi=110)
    with_views = [s for s in samples if s.status == 200 and s.views is not None]
    without = [s for s in samples if s.status == 200 and s.views is None]
    failed = [s for s in samples if s.status != 200]
    for group, color, label in (
        (with_views, "tab:blue", "200 with views"),
        (without, "tab:orange", "200 without views (Redis down)"),
        (failed, "tab:red", "non-200"),
    ):
        if group:
            axis.scatter([s.at_s for s in group], [s.latency_ms for s in group], s=3, c=color, label=label)
    for at, label in events:
        axis.axvline(at, color="grey", linestyle="--", linewidth=1)
        axis.text(at, axis.get_ylim()[1] * 0.95, f" {label}", rotation=90, va="top", fontsize=8)
    axis.set_yscale("log")
    axis.set_xlabel("time (s)")
    axis.set_ylabel("latency (ms, log)")
    axis.set_title(title)
    axis.legend(loc="upper right", markerscale=4, fontsize=8)
    figure.tight_layout()
    figure.savefig(path)
    plt.close(figure)
