"""Run the stack's processes as an unprivileged user, never as root.

As root, every service runs as the system user `dashboard` (created when
missing), like the containers' non-root users. As any other user, the services
run as that user.
"""

import os
import pwd
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SERVICE_USER = "dashboard"


@dataclass(frozen=True)
class RunAs:
    uid: int
    gid: int
    name: str

    @property
    def switches(self) -> bool:
        return self.uid != os.geteuid()

    def popen_kwargs(self) -> dict[str, Any]:
        """subprocess arguments that start a child as this user."""
        if not self.switches:
            return {}
        return {"user": self.uid, "group": self.gid, "extra_groups": []}

    def own(self, *paths: Path) -> None:
        """Give paths (recursively) to this user, when running as root."""
        if not self.switches:
            return
        for path in paths:
            for root, dirs, files in os.walk(path):
                os.chown(root, self.uid, self.gid)
                for name in dirs + files:
                    os.lchown(Path(root) / name, self.uid, self.gid)


def service_user() -> RunAs:
    name = SERVICE_USER if os.geteuid() == 0 else pwd.getpwuid(os.geteuid()).pw_name
    try:
        entry = pwd.getpwnam(name)
    except KeyError:  # as root, the first time
        useradd = shutil.which("useradd") or "/usr/sbin/useradd"
        system = ["--system", "--user-group", "--no-create-home", "--home-dir", "/nonexistent"]
        subprocess.run([useradd, *system, "--shell", "/usr/sbin/nologin", name], check=True)
        entry = pwd.getpwnam(name)
    return RunAs(entry.pw_uid, entry.pw_gid, entry.pw_name)


def grant_traverse(path: Path, user: RunAs) -> list[Path]:
    """Let `user` reach `path` (o+x on it and the ancestors it cannot cross); returns those changed.

    Only for root: the repository (code, venv, page) must be readable by the
    service user, and a clone under /root is not. Traverse is not read: the
    directories' listings stay private.
    """
    if not user.switches:
        return []
    changed = []
    path = path.resolve()
    for ancestor in (*reversed(path.parents), path):
        mode = ancestor.stat().st_mode
        if not mode & 0o001:
            ancestor.chmod(mode | 0o001)
            changed.append(ancestor)
    return changed
