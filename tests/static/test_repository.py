"""What the repository holds: the immutable page, no secret, no local state."""

import hashlib
import subprocess

from app.init_secrets import PASSWORD_FILES, REDIS_ACL
from tests.conftest import REPO_ROOT

CONTRACT_SHA256 = "ebcfd1ad9ff1fbddd40c0a6b93347e8ddcdcf87afb67993d89eb495c729993ad"


def tracked_files() -> list[str]:
    result = subprocess.run(["git", "ls-files"], cwd=REPO_ROOT, capture_output=True, text=True, check=True)
    return result.stdout.split()


def test_frontend_is_byte_identical_to_the_contract() -> None:
    digest = hashlib.sha256((REPO_ROOT / "frontend" / "index.html").read_bytes()).hexdigest()
    assert digest == CONTRACT_SHA256


def test_no_secret_or_local_state_is_tracked() -> None:
    for path in tracked_files():
        name = path.rsplit("/", 1)[-1]
        assert name != ".env", path
        assert not path.startswith((".venv/", "secrets/", "test-artifacts/")), path
        assert not name.endswith((".pem", ".key")), path
        assert name not in (*PASSWORD_FILES, REDIS_ACL), path


def test_gitignore_covers_env_state_and_secrets() -> None:
    ignored = (REPO_ROOT / ".gitignore").read_text().split("\n")
    for entry in (".env", ".venv/", "secrets/", "test-artifacts/"):
        assert entry in ignored


def test_docker_build_context_holds_only_what_the_image_copies() -> None:
    rules = [
        line for line in (REPO_ROOT / ".dockerignore").read_text().split("\n") if line and line[0] != "#"
    ]
    assert rules[0] == "*"
    assert {"!app/", "!sqlfiles/", "!requirements.txt"} <= set(rules)
