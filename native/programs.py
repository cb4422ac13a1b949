"""Where the servers' programs are: Debian's packages."""

import glob
import shutil
from pathlib import Path

from native.process import StackError


def program(name: str) -> str:
    """A program on PATH, or in the sbin folders a user's PATH may lack (nginx)."""
    found = shutil.which(name) or shutil.which(name, path="/usr/local/sbin:/usr/sbin:/sbin")
    if found is None:
        raise StackError(f"{name} not found: make deps installs it")
    return found


def postgres_program(name: str) -> str:
    """A PostgreSQL program from the newest installed major version (not on PATH on Debian)."""
    candidates = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), key=lambda p: int(Path(p).parts[-3]))
    return candidates[-1] if candidates else program(name)
