"""The image's `pip install` resolves for the image's own Python, with no compiler.

The engine tier builds the image from a stand-in base (Debian's Python), so pip
is asked here for exactly what the dependency layer of the official base
installs: wheels only (--only-binary=:all:), with hashes, for the CPython of
the pinned base, on x86_64 glibc (Debian slim).
"""

import re
import subprocess
from pathlib import Path

from tests.conftest import REPO_ROOT
from tests.static.compose import base_image

PLATFORMS = ["manylinux_2_28_x86_64", "manylinux_2_17_x86_64", "manylinux2014_x86_64", "linux_x86_64"]


def image_python() -> str:
    base = base_image()
    match = re.match(r"python:3\.(\d+)\.", base)
    assert match, base
    return f"3.{match.group(1)}"


def test_every_requirement_has_a_wheel_for_the_image_python(tmp_path: Path) -> None:
    version = image_python()
    abi = "cp" + version.replace(".", "")
    platforms = [arg for platform in PLATFORMS for arg in ("--platform", platform)]
    result = subprocess.run(
        [
            str(REPO_ROOT / ".venv" / "bin" / "pip"),
            "download",
            "--quiet",
            "--disable-pip-version-check",
            "--require-hashes",
            "--only-binary=:all:",
            "--python-version",
            version,
            "--implementation",
            "cp",
            "--abi",
            abi,
            *platforms,
            "--dest",
            str(tmp_path),
            "-r",
            str(REPO_ROOT / "requirements.txt"),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    pinned = re.findall(r"^([a-z0-9-]+)==", (REPO_ROOT / "requirements.txt").read_text(), re.MULTILINE)
    assert len(list(tmp_path.glob("*.whl"))) == len(pinned)
