"""Restart a command whenever it dies: compose's `restart: unless-stopped`.

python -m native.supervise -- CMD...   Stopping the supervisor (SIGTERM or
SIGINT, sent to the process group by the native runner) stops the command for
good; any other exit of the command is followed by a restart, after 1 s, then
a doubling delay (at most 10 s) while it keeps dying young.
"""

import signal
import subprocess
import sys
import time
from types import FrameType

from native.process import signal_group

MAX_DELAY_S = 10.0
STABLE_AFTER_S = 10.0


def main(command: list[str]) -> int:
    stopping = False
    child: subprocess.Popen[bytes] | None = None

    def stop(signum: int, _frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True
        if child is not None and child.poll() is None:
            signal_group(child.pid, signum)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    delay = 1.0
    while not stopping:
        started = time.monotonic()
        # Its own process group: when it dies, whatever it leaves (a server's
        # workers still holding the port) goes with it, as when a container's
        # PID 1 dies.
        child = subprocess.Popen(command, start_new_session=True)
        code = child.wait()
        signal_group(child.pid, signal.SIGKILL)
        if stopping:
            break
        delay = 1.0 if time.monotonic() - started > STABLE_AFTER_S else delay
        print(f"supervise: {command[0]} exited with {code}; restarting in {delay:.0f}s", flush=True)
        time.sleep(delay)
        delay = min(delay * 2, MAX_DELAY_S)
    return 0


if __name__ == "__main__":
    if sys.argv[1:2] != ["--"] or len(sys.argv) < 3:
        sys.exit("usage: python -m native.supervise -- CMD...")
    sys.exit(main(sys.argv[2:]))
