"""A minimal HTTP/1.1 load generator on raw asyncio streams.

httpx spends more CPU per request than the API does: hundreds of httpx
clients in one process leave the server mostly idle. Bare keep-alive
connections writing a fixed request and reading `Content-Length` bodies keep
every connection's request inside the server, which is what overload means.
"""

import asyncio
import dataclasses
import time
from collections.abc import Awaitable, Callable, Coroutine
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import urlsplit

Event = tuple[float, Callable[[], Awaitable[None]]]
T = TypeVar("T")


def blocking(call: Callable[[], object]) -> Callable[[], Awaitable[None]]:
    """A blocking call (stopping a service...) as an event's action: in a
    thread, so that the load goes on meanwhile."""

    async def run() -> None:
        await asyncio.to_thread(call)

    return run


def run_apart(coroutine: Coroutine[Any, Any, T]) -> T:
    """asyncio.run in a thread of its own: callable where a loop already runs
    (Playwright's sync API keeps one in the test's thread)."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coroutine).result()


@dataclass(frozen=True)
class Answer:
    status: int
    headers: dict[str, str]
    # From sending the request to the end of the body.
    seconds: float = 0.0


class ResponseCut(Exception):
    """The status line and headers came, then the connection closed before
    the whole body: the server died while writing this very response."""

    def __init__(self, status: int, received: int, expected: int) -> None:
        super().__init__(f"status {status}: {received} of {expected} body bytes")


CUT = ResponseCut.__name__


async def read_answer(reader: asyncio.StreamReader) -> Answer:
    head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1")
    status_line, *lines = head.rstrip("\r\n").split("\r\n")
    headers = {}
    for line in lines:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    status = int(status_line.split(" ", 2)[1])
    expected = int(headers.get("content-length", "0"))
    try:
        await reader.readexactly(expected)
    except asyncio.IncompleteReadError as exc:
        raise ResponseCut(status, len(exc.partial), expected) from None
    return Answer(status, headers)


async def keep_asking(url: str, stop: asyncio.Event, answers: list[Answer | str]) -> None:
    """One keep-alive connection sending GET / back to back until stop.

    A transport error is recorded as its repr (a `ResponseCut` starts with
    CUT), then the connection is reopened.
    """
    parts = urlsplit(url)
    request = f"GET / HTTP/1.1\r\nHost: {parts.netloc}\r\n\r\n".encode()
    while not stop.is_set():
        try:
            reader, writer = await asyncio.open_connection(parts.hostname, parts.port)
        except OSError as exc:
            answers.append(f"connect: {exc!r}")
            await asyncio.sleep(0.01)
            continue
        try:
            while not stop.is_set():
                sent = time.monotonic()
                writer.write(request)
                answer = await read_answer(reader)
                answers.append(dataclasses.replace(answer, seconds=time.monotonic() - sent))
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ResponseCut) as exc:
            answers.append(repr(exc))
        finally:
            writer.close()


async def burst(url: str, connections: int, seconds: float, events: list[Event]) -> list[Answer | str]:
    """`connections` clients on GET / for `seconds`; events run at their offsets."""
    answers: list[Answer | str] = []
    stop = asyncio.Event()
    tasks = [asyncio.create_task(keep_asking(url, stop, answers)) for _ in range(connections)]
    start = time.monotonic()
    try:
        for at, action in events:
            await asyncio.sleep(max(0.0, start + at - time.monotonic()))
            await action()
        await asyncio.sleep(max(0.0, start + seconds - time.monotonic()))
    finally:
        stop.set()
        await asyncio.gather(*tasks)
    return answers


async def hold_slow_connections(host: str, port: int, count: int, seconds: float, every: float = 2.0) -> int:
    """Slowloris for `seconds`: `count` clients, each sending a request's
    headers one line every `every` seconds and never ending them; a client
    the server drops (its header timeout) connects again at once. Returns how
    many connections were opened in all."""
    deadline = time.monotonic() + seconds
    opened = 0

    async def one_client() -> None:
        nonlocal opened
        while time.monotonic() < deadline:
            try:
                reader, writer = await asyncio.open_connection(host, port)
            except OSError:
                await asyncio.sleep(every)
                continue
            opened += 1
            try:
                writer.write(b"GET / HTTP/1.1\r\nHost: x\r\n")
                while time.monotonic() < deadline:
                    try:
                        await asyncio.wait_for(reader.read(1024), every)
                        break  # an answer (408) or the end: the server dropped it
                    except TimeoutError:
                        writer.write(b"X-Slow: 1\r\n")
                        await writer.drain()
            except OSError:
                pass  # reset by the server: connect again
            finally:
                writer.close()

    await asyncio.gather(*(one_client() for _ in range(count)))
    return opened
