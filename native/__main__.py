"""CLI of the native stack: python -m native up|down|ps|logs|start|stop|kill|pause|unpause|psql|clean."""

import argparse
import subprocess
import sys

from native.config import EDGE_API_PORT, EDGE_PAGE_PORT, NativeConfig
from native.postgres import psql_command
from native.process import StackError
from native.stack import NativeStack

# The commands on one service: NativeStack's method of the same name.
ONE_SERVICE = {
    "start": "start one service, return once healthy",
    "stop": "stop one service",
    "kill": "SIGKILL one service's main process (a crash)",
    "pause": "freeze one service (SIGSTOP)",
    "unpause": "resume a frozen service (SIGCONT)",
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m native", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("up", help="start every service, return once healthy")
    sub.add_parser("down", help="stop every service, keep the data")
    sub.add_parser("ps", help="state of each service")
    sub.add_parser("logs", help="print the logs").add_argument("service", nargs="?")
    for command, text in ONE_SERVICE.items():
        sub.add_parser(command, help=text).add_argument("service")
    sub.add_parser("psql", help="psql on the stack's database (reads SQL from stdin when piped)")
    sub.add_parser("clean", help="stop everything and delete the data (make clean asks first)")
    args = parser.parse_args(argv)

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
