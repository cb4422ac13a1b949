"""python.Dockerfile, read line by line (no engine builds it here)."""

import re

from tests.static.compose import DOCKERFILE, base_image, dockerfile_instructions, exec_form

INSTRUCTIONS = dockerfile_instructions()


def arguments(keyword: str) -> list[str]:
    return [args for kw, args in INSTRUCTIONS if kw == keyword]


def test_base_is_a_pinned_slim_supported_python() -> None:
    (base,) = arguments("FROM")  # one stage: nothing to leave behind
    # An argument (the engine tests' stand-in) whose default is the pinned image.
    assert base == "${PYTHON_IMAGE}"
    match = re.fullmatch(r"python:3\.(\d+)\.\d+-slim-(bookworm|trixie)@sha256:[0-9a-f]{64}", base_image())
    assert match, base_image()
    assert int(match.group(1)) >= 11  # 3.9 of the POC is end of life


def test_bytecode_is_compiled_at_build_time() -> None:
    # The root filesystem is read-only at run time: without .pyc files, every
    # process would recompile each import.
    install = next(run for run in arguments("RUN") if "pip install" in run)
    assert "--no-compile" not in install
    assert any("compileall" in run and "app" in run for run in arguments("RUN"))


def test_no_external_frontend_is_needed_to_build() -> None:
    # `# syntax=` makes BuildKit fetch a frontend image from a registry.
    first_line = DOCKERFILE.read_text().splitlines()[0]
    assert not first_line.startswith("# syntax=")


def test_runs_as_a_dedicated_numeric_non_root_user() -> None:
    user = arguments("USER")[-1]
    assert user not in ("root", "0", "0:0")
    run_lines = " ".join(arguments("RUN"))
    assert "useradd --system" in run_lines and "--shell /usr/sbin/nologin" in run_lines
    app_uid = next(args.split("=")[1] for args in arguments("ARG") if args.startswith("APP_UID="))
    assert int(app_uid) >= 1000
    assert user == "${APP_UID}:${APP_UID}"


def test_dependencies_are_cached_before_the_code_and_hash_checked() -> None:
    order = [f"{kw} {args}" for kw, args in INSTRUCTIONS if kw in ("COPY", "RUN")]
    requirements = next(i for i, line in enumerate(order) if line.startswith("COPY requirements.txt"))
    install = next(i for i, line in enumerate(order) if "pip install" in line)
    code = next(i for i, line in enumerate(order) if line.startswith("COPY app/"))
    assert requirements < install < code
    assert "--require-hashes" in order[install] and "--only-binary=:all:" in order[install]


def test_no_build_tools_and_no_package_cache() -> None:
    run_lines = " ".join(arguments("RUN"))
    assert not re.search(r"apt-get install|apk add|gcc|build-essential", run_lines)
    assert any("PIP_NO_CACHE_DIR=1" in env for env in arguments("ENV"))


def test_code_is_not_writable_by_the_app_user() -> None:
    for copy in arguments("COPY"):
        assert "--chown" not in copy and "--chmod" not in copy, copy
    assert not any(re.search(r"\bchown\b.*(/srv|app/)", run) for run in arguments("RUN"))


def test_cmd_is_exec_form_and_healthcheck_needs_no_curl() -> None:
    (cmd,) = arguments("CMD")
    assert exec_form(cmd) == ["python", "-m", "app.serve"]
    (healthcheck,) = arguments("HEALTHCHECK")
    probe = exec_form(healthcheck.split(" CMD ", 1)[1])
    assert probe is not None and probe[0] == "python"
    assert "/healthz" in probe[-1]  # never GET /: that would count a view
    assert "curl" not in healthcheck and "wget" not in healthcheck


def test_secrets_mount_point_belongs_to_the_app_user() -> None:
    assert any("--owner app" in run and "/run/dashboard-secrets" in run for run in arguments("RUN"))
