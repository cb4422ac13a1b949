"""CLI of the native stack, behind the Makefile's targets of the same names
(`make help` says what each does): python -m native COMMAND [SERVICE]."""

import argparse
import subprocess
import sys

from native.config import EDGE_API_PORT, EDGE_PAGE_PORT, NativeConfig
from native.postgres import psql_command
from native.process import StackError
from native.stack import NativeStack

# The commands on one service: NativeStack's method of the same name.
ONE_SERVICE = ("start", "stop", "kill", "pause", "unpause")
COMMANDS = ("up", "down", "ps", "logs", "psql", "clean", *ONE_SERVICE)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m native", description=__doc__)
    parser.add_argument("command", choices=COMMANDS)
    parser.add_argument("service", nargs="?", help="for logs (optional) and the one-service commands")
    args = parser.parse_args(argv)
    if args.command in ONE_SERVICE and args.service is None:
        parser.error(f"{args.command} needs a service")

    stack = NativeStack(NativeConfig.from_env())
    try:
        return run(stack, args.command, args.service)
    except StackError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1


def run(stack: NativeStack, command: str, service: str | None) -> int:
    if command in ONE_SERVICE:
        getattr(stack, command)(service)
    elif command == "up":
        stack.up()
        print(f"Dashboard: http://localhost:{EDGE_PAGE_PORT}")
        print(f"API:       http://localhost:{EDGE_API_PORT}/")
    elif command == "down":
        stack.down()
    elif command == "ps":
        print(f"{'SERVICE':8} {'STATE':9} PID")
        for name, each in stack.services.items():
            pid = each.pid()
            state = "stopped" if pid is None else ("healthy" if each.ready() else "starting")
            print(f"{name:8} {state:9} {pid or '-'}")
    elif command == "logs":
        for name in [service] if service else stack.services:
            log = stack.service(name).log_file
            if log.exists():
                print(f"==> {log} <==")
                sys.stdout.write(log.read_text(errors="replace")[-20000:])
    elif command == "psql":
        piped = [] if sys.stdin.isatty() else ["-v", "ON_ERROR_STOP=1"]
        return subprocess.call([*psql_command(stack.config), *piped], **stack.user.popen_kwargs())
    elif command == "clean":
        stack.clean()
    return 0


if __name__ == "__main__":
    sys.exit(main())
