"""The linters the repository commits to, run on the files they check."""

import re
import subprocess
from pathlib import Path

import yaml

from tests.conftest import REPO_ROOT

VENV_BIN = REPO_ROOT / ".venv" / "bin"


def run(*cmd: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(c) for c in cmd], cwd=REPO_ROOT, capture_output=True, text=True, timeout=120)


def test_dclint_finds_no_error() -> None:
    dclint = REPO_ROOT / "tools" / "node_modules" / ".bin" / "dclint"
    assert dclint.exists(), "run make deps-test"
    result = run(dclint, "docker-compose.yml")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "error" not in result.stdout


def test_compose_file_matches_the_compose_spec_schema() -> None:
    result = run(
        VENV_BIN / "check-jsonschema", "--builtin-schema", "vendor.compose-spec", "docker-compose.yml"
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_hadolint_passes_on_the_dockerfile() -> None:
    result = run(VENV_BIN / "hadolint", "--failure-threshold", "info", "python.Dockerfile")
    assert result.returncode == 0, result.stdout + result.stderr


WORKFLOW = REPO_ROOT / ".github" / "workflows" / "ci.yml"


def test_workflow_matches_the_github_schema() -> None:
    result = run(VENV_BIN / "check-jsonschema", "--builtin-schema", "vendor.github-workflows", WORKFLOW)
    assert result.returncode == 0, result.stdout + result.stderr


def test_workflow_actions_are_pinned_by_commit_sha() -> None:
    uses = re.findall(r"uses:\s*(\S+)", WORKFLOW.read_text())
    assert uses
    for action in uses:
        assert re.fullmatch(r"[\w.-]+/[\w.-]+@[0-9a-f]{40}", action), action


def test_workflow_runs_make_targets_that_exist_with_a_read_only_token() -> None:
    workflow = yaml.safe_load(WORKFLOW.read_text())
    assert set(workflow["permissions"].values()) <= {"read", "none"}
    runs = {
        name: "\n".join(step.get("run", "") for step in job["steps"])
        for name, job in workflow["jobs"].items()
    }
    targets = set(re.findall(r"^([a-z-]+):", (REPO_ROOT / "Makefile").read_text(), re.MULTILINE))
    invoked = {
        target for run in runs.values() for target in re.findall(r"^\s*make ([a-z-]+)", run, re.MULTILINE)
    }
    assert invoked and invoked <= targets, invoked - targets
    # The stack as a user starts it (docker compose up, whose --wait proves
    # every healthcheck), with a bounded wait: a service that never turns
    # healthy fails the job instead of running out its timeout.
    ups = [run for run in runs.values() if "docker compose up" in run]
    assert ups and all("--wait-timeout" in run for run in ups)
    assert any("make test" in run for run in runs.values())
    # Every pinned image is checked on the registry, the Dockerfile's base too.
    image_checks = [run for run in runs.values() if "imagetools inspect" in run]
    assert image_checks and all("python.Dockerfile" in run for run in image_checks)
