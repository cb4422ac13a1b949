"""Fail fast while a dependency is down, probe it once per back-off period.

Shared by the Redis counter and the database store: after a failure, calls
are refused at once for `backoff` seconds, then a single call probes the
dependency while the others keep being refused. Each change of state is logged
once, not once per request.
"""

import logging
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

from app.metrics import BREAKER_OPENINGS, DEPENDENCY_UP

log = logging.getLogger(__name__)

T = TypeVar("T")


class BreakerOpen(Exception):
    """The dependency is considered down: the call was not attempted."""


class Breaker:
    def __init__(
        self,
        name: str,
        backoff: float,
        consequence: str,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._name = name
        self._backoff = backoff
        self._consequence = consequence
        self._clock = clock
        self._down = False
        self._retry_at = 0.0
        self._probe_in_flight = False
        self._up_metric = DEPENDENCY_UP.labels(name.lower())
        self._up_metric.set(1)

    @property
    def available(self) -> bool:
        return not self._down

    async def call(
        self, operation: Callable[[], Awaitable[T]], failures: tuple[type[BaseException], ...]
    ) -> T:
        """Run operation, or raise BreakerOpen without running it while down.

        An exception in `failures` marks the dependency down and is re-raised.
        """
        probing = self._down
        if probing:
            if self._probe_in_flight or self._clock() < self._retry_at:
                raise BreakerOpen(self._name)
            self._probe_in_flight = True
        try:
            result = await operation()
        except failures as exc:
            self._mark_down(exc)
            raise
        finally:
            if probing:
                self._probe_in_flight = False  # also when the probe is cancelled
        self._mark_up()
        return result

    def _mark_down(self, exc: BaseException) -> None:
        self._retry_at = self._clock() + self._backoff
        if not self._down:
            self._down = True
            self._up_metric.set(0)
            BREAKER_OPENINGS.labels(self._name.lower()).inc()
            log.warning(
                "%s unavailable (%s: %s); %s, retrying every %.1fs",
                self._name,
                type(exc).__name__,
                str(exc) or "no detail",
                self._consequence,
                self._backoff,
            )

    def _mark_up(self) -> None:
        if self._down:
            self._down = False
            self._up_metric.set(1)
            log.info("%s available again", self._name)
