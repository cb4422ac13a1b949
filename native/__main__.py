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
        return _run(stack, args)
    except StackError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1


def _run(stack: NativeStack, args: argparse.Namespace) -> int:
    if args.command in ONE_SERVICE:
        getattr(stack, args.command)(args.service)
    elif args.command == "up":
        stack.up()
        print(f"Dashboard: http://localhost:{EDGE_PAGE_PORT}\nAPI:       http://localhost:{EDGE_API_PORT}/")
    elif args.command == "down":
        stack.down()
    elif args.command == "ps":
        print(f"{'SERVICE':8} {'STATE':9} PID")
        for name, state, pid in stack.status():
            print(f"{name:8} {state:9} {pid}")
    elif args.command == "logs":
        for path in stack.logs(args.service):
            print(f"==> {path} <==")
            sys.stdout.write(path.read_text(errors="replace")[-20000:])
    elif args.command == "psql":
        piped = [] if sys.stdin.isatty() else ["-v", "ON_ERROR_STOP=1"]
        return subprocess.call([*psql_command(stack.config), *piped], **stack.user.popen_kwargs())
    elif args.command == "clean":
        stack.clean()
    return 0


if __name__ == "__main__":
    sys.exit(main())
