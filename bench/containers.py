"""What each container's cgroup says about a scenario (cgroup v2, read inside
the container): how often its CPU quota held it back, and the kernel's OOM kills."""

from dataclasses import dataclass

from bench.driver import LONG_RUNNING, StackDriver


@dataclass(frozen=True)
class Counters:
    periods: int  # CPU quota periods that ran
    throttled: int  # periods the container used its whole quota in, and waited
    throttled_s: float
    oom_kills: int


def _fields(text: str) -> dict[str, int]:
    return {name: int(value) for name, value in (line.split() for line in text.splitlines() if line.strip())}


def read(stack: StackDriver) -> dict[str, Counters]:
    found = {}
    for service in LONG_RUNNING:
        cpu = _fields(stack.compose("exec", "-T", service, "cat", "/sys/fs/cgroup/cpu.stat"))
        memory = _fields(stack.compose("exec", "-T", service, "cat", "/sys/fs/cgroup/memory.events"))
        found[service] = Counters(
            cpu.get("nr_periods", 0),
            cpu.get("nr_throttled", 0),
            cpu.get("throttled_usec", 0) / 1e6,
            memory.get("oom_kill", 0),
        )
    return found


def since(before: dict[str, Counters], after: dict[str, Counters]) -> dict[str, Counters]:
    """The counters' growth; a container restarted meanwhile counts from zero."""

    def growth(old: Counters, new: Counters) -> Counters:
        if new.periods < old.periods:
            return new
        return Counters(
            new.periods - old.periods,
            new.throttled - old.throttled,
            new.throttled_s - old.throttled_s,
            new.oom_kills - old.oom_kills,
        )

    return {service: growth(before[service], after[service]) for service in after}
