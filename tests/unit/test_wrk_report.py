"""bench.wrk reads wrk's report as wrk prints it."""

import pytest

from bench.wrk import parse

TRAILING_SPACE = " "  # as wrk prints a value in seconds
REPORT = f"""Running 10s test @ http://127.0.0.1:8000/
  2 threads and 1000 connections
  Latency Distribution
     50%  105.36ms
     75%  191.50ms
     90%  368.74ms
     99%    1.08s{TRAILING_SPACE}
  54052 requests in 10.07s, 24.49MB read
  Socket errors: connect 0, read 0, write 0, timeout 64
  Non-2xx or 3xx responses: 48012
Requests/sec:   5366.56
status 200 6040
status 503 48012
"""


def test_a_report_in_seconds_with_wrk_s_trailing_space_is_read() -> None:
    result = parse(REPORT)
    assert (result.p50_ms, result.p99_ms) == (105.36, 1080.0)
    assert (result.requests, result.socket_errors, result.non_2xx) == (54052, 64, 48012)
    assert result.statuses == {200: 6040, 503: 48012}


def test_a_report_without_percentiles_is_an_error_that_shows_it() -> None:
    with pytest.raises(ValueError, match="no latency percentiles"):
        parse(REPORT.replace("     99%    1.08s \n", ""))
