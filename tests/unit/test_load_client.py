"""bench.load's client tells a response cut after its headers from the others."""

import asyncio

import pytest

from bench.load import CUT, Answer, burst
from tests.e2e.test_swarm import assert_no_failure

HEAD = b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n"


async def serve_then_burst(answer: bytes) -> list[Answer | str]:
    """One server writing `answer` to each request then closing; one client for a moment."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await reader.readuntil(b"\r\n\r\n")
            writer.write(answer)
            await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass  # the client stopped first
        finally:
            writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    async with server:
        return await burst(f"http://127.0.0.1:{port}/", 1, 0.2, [])


def test_a_body_cut_short_is_recorded_as_a_cut_response() -> None:
    answers = asyncio.run(serve_then_burst(HEAD + b"12345"))
    assert answers
    assert all(isinstance(a, str) and a.startswith(CUT) and "5 of 10" in a for a in answers), answers[:3]


def test_a_close_before_any_header_is_not_a_cut_response() -> None:
    answers = asyncio.run(serve_then_burst(b""))
    assert answers
    assert not any(isinstance(a, str) and a.startswith(CUT) for a in answers), answers[:3]
    assert not any(isinstance(a, Answer) for a in answers)


def test_a_whole_answer_is_an_answer() -> None:
    answers = asyncio.run(serve_then_burst(HEAD + b"0123456789"))
    assert answers
    assert any(isinstance(a, Answer) and a.status == 200 for a in answers)
    assert not any(isinstance(a, str) and a.startswith(CUT) for a in answers)


# The swarm suite's verdict on a load run (tests/e2e/test_swarm.py).
OK = Answer(200, {}, 0.01)
CUT_ONE = "ResponseCut('status 200: 0 of 722 body bytes')"


def test_a_run_of_200s_passes_and_a_cut_response_only_when_allowed() -> None:
    assert_no_failure([OK, OK])
    assert_no_failure([OK, CUT_ONE, OK], cut_allowed=1)
    with pytest.raises(AssertionError):
        assert_no_failure([OK, CUT_ONE, OK])
    with pytest.raises(AssertionError):
        assert_no_failure([OK, CUT_ONE, CUT_ONE], cut_allowed=1)


@pytest.mark.parametrize(
    "failure",
    ["ConnectionResetError(104, 'Connection reset by peer')", Answer(502, {}, 0.01), Answer(200, {}, 1.5)],
)
def test_any_other_failure_fails_the_run_even_with_cuts_allowed(failure: Answer | str) -> None:
    with pytest.raises(AssertionError):
        assert_no_failure([OK, failure, OK], cut_allowed=2)
