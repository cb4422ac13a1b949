"""No secret in any log line of a stack that ran."""

from pathlib import Path


def assert_no_secret_in_logs(state_dir: Path) -> None:
    secrets = [
        path.read_bytes().strip()
        for path in (state_dir / "secrets").glob("*")
        if path.name in ("db_password", "redis_password")
    ]
    assert len(secrets) == 2
    logs = [path for path in state_dir.rglob("*.log") if path.is_file()]
    assert logs
    for log in logs:
        content = log.read_bytes()
        for secret in secrets:
            assert secret not in content, f"a password appears in {log}"
