"""No secret in any log line of a stack that ran."""

from app.init_secrets import PASSWORD_FILES


def assert_no_secret_in_logs(logs: bytes, secrets: list[bytes]) -> None:
    assert len(secrets) == len(PASSWORD_FILES) and all(secrets)
    assert logs  # the stack did log something
    for secret in secrets:
        assert secret not in logs, "a password appears in the logs"
