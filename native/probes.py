"""Is it answering? The TCP and HTTP probes of the healthchecks, and free ports."""

import http.client
import socket
from pathlib import Path


def port_open(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def free_port() -> int:
    """A TCP port nothing listens on now (the kernel's pick)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class _UnixHTTPConnection(http.client.HTTPConnection):
    """HTTP over a unix socket (the standard library speaks only TCP)."""

    def __init__(self, path: Path) -> None:
        super().__init__("localhost", timeout=2)
        self._path = path

    def connect(self) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(self.timeout)
        self.sock.connect(str(self._path))


def http_ok(target: str, port: int = 0, unix_socket: Path | None = None) -> bool:
    """GET target answers 200, on 127.0.0.1:port or over unix_socket."""
    if unix_socket is None:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
    else:
        connection = _UnixHTTPConnection(unix_socket)
    try:
        connection.request("GET", target)
        return connection.getresponse().status == 200
    except OSError:
        return False
    finally:
        connection.close()
