"""Restart a command whenever it dies: compose's `restart: unless-stopped`.

python -m native.supervise -- CMD...   Stopping the supervisor (SIGTERM or
SIGINT, sent to the process group by the native runner) stops the command for
good; any other exit of the command is followed by a restart, after 1 s, then
a doubling delay (at most 10 s) while it keeps dying young.
"""

import os
import signal
import subprocess
import sys
import time
from types import FrameType

MAX_DELAY_S = 10.0
STABLE_AFTER_S = 10.0


def _signal_group(pgid: int, signum: int) -> None:
    try:
        os.killpg(pgid, signum)
    except ProcessLookupError:
        pass


def main(argv: list[str]) -> int:
    if "--" not in argv or argv.index("--") == len(argv) - 1:
        print("usage: python -m native.supervise -- CMD...", file=sys.stderr)
        return 2
    command = argv[argv.index("--") + 1 :]
    stopping = False
    child: subprocess.Popen[bytes] | None = None

    def stop(signum: int, _frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True
        if child is not None and child.poll() is None:
            _signal_group(child.pid, signum)

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
        _signal_group(child.pid, signal.SIGKILL)
        if stopping:
            break
        delay = 1.0 if time.monotonic() - started > STABLE_AFTER_S else delay
        print(f"supervise: {command[0]} exited with {code}; restarting in {delay:.0f}s", flush=True)
        time.sleep(delay)
        delay = min(delay * 2, MAX_DELAY_S)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
