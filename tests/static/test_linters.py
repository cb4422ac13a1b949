"""The linters the repository commits to, run on the files they check."""

import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from native.edge import TEMPLATE, render
from tests.conftest import REPO_ROOT
from tests.static.compose import services

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


@pytest.mark.skipif(shutil.which("nginx") is None, reason="nginx is installed by make deps")
def test_the_template_rendered_as_in_the_container_is_valid_nginx(tmp_path: Path) -> None:
    environment = {key: str(value) for key, value in services()["proxy"]["environment"].items()}
    environment["NGINX_LOCAL_RESOLVERS"] = "127.0.0.11"  # what the image finds in a container
    # Debian 12's nginx (1.22) predates upstream `resolve` (1.27.3) and would
    # look `api` up now: an address instead. The engine tier runs the
    # container's own nginx 1.30 on the full configuration.
    environment["API_UPSTREAM_RESOLVE"] = ""
    environment["API_UPSTREAM"] = "127.0.0.1:8000"
    (tmp_path / "conf.d").mkdir()
    (tmp_path / "conf.d" / "default.conf").write_text(render(TEMPLATE.read_text(), environment))
    (tmp_path / "nginx.conf").write_text(
        "pid nginx.pid; error_log stderr; events {}\n"
        "http { include /etc/nginx/mime.types; include conf.d/*.conf; }\n"
    )
    result = run("nginx", "-t", "-q", "-p", tmp_path, "-c", tmp_path / "nginx.conf", "-e", "stderr")
    assert result.returncode == 0, result.stderr


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
    # The containers (docker compose up, whose --wait proves every healthcheck)
    # only after the native suite passed.
    native = {name for name, run in runs.items() if "make test-native" in run}
    for name, run in runs.items():
        if "docker compose up" in run:
            # A bounded wait: a service that never turns healthy fails the job
            # instead of running out its timeout.
            assert "--wait-timeout" in run and native & {workflow["jobs"][name].get("needs")}, name
    # Every pinned image is checked on the registry, the Dockerfile's base too.
    image_checks = [run for run in runs.values() if "imagetools inspect" in run]
    assert image_checks and all("python.Dockerfile" in run for run in image_checks)
