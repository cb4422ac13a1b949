"""What each container's cgroup says about a scenario (read inside the
container): how often its CPU quota held it back, and the kernel's OOM kills."""

from dataclasses import dataclass

from bench.driver import LONG_RUNNING, StackDriver


@dataclass(frozen=True)
class Counters:
    periods: int  # CPU quota periods that ran
    throttled: int  # periods the container used its whole quota in, and waited
    throttled_s: float
    oom_kills: int


# cgroup v2 (Docker Desktop, current distributions), else v1.
COUNTERS = (
    "cat /sys/fs/cgroup/cpu.stat /sys/fs/cgroup/memory.events 2>/dev/null"
    " || cat /sys/fs/cgroup/cpu/cpu.stat /sys/fs/cgroup/memory/memory.oom_control"
)


def _fields(text: str) -> dict[str, int]:
    pairs = (line.split() for line in text.splitlines())
    return {pair[0]: int(pair[1]) for pair in pairs if len(pair) == 2 and pair[1].isdigit()}


def read(stack: StackDriver) -> dict[str, Counters | None]:
    """Each service's counters; None for one stopped or paused (no exec)."""
    found: dict[str, Counters | None] = {}
    for service in LONG_RUNNING:
        try:
            fields = _fields(stack.compose("exec", "-T", service, "sh", "-c", COUNTERS))
        except AssertionError:
            found[service] = None
            continue
        # v2 counts the throttled time in microseconds, v1 in nanoseconds.
        throttled_s = fields.get("throttled_usec", 0) / 1e6 + fields.get("throttled_time", 0) / 1e9
        found[service] = Counters(
            fields.get("nr_periods", 0), fields.get("nr_throttled", 0), throttled_s, fields.get("oom_kill", 0)
        )
    return found


def since(
    before: dict[str, Counters | None], after: dict[str, Counters | None]
) -> dict[str, Counters | None]:
    """The counters' growth; a container restarted meanwhile counts from zero,
    and one stopped or paused at either end has none."""

    def growth(old: Counters | None, new: Counters | None) -> Counters | None:
        if old is None or new is None:
            return None
        if new.periods < old.periods:
            return new
        return Counters(
            new.periods - old.periods,
            new.throttled - old.throttled,
            new.throttled_s - old.throttled_s,
            new.oom_kills - old.oom_kills,
        )

    return {service: growth(before[service], after[service]) for service in after}
