"""No secret in any log line of a stack that ran."""


def assert_no_secret_in_logs(logs: bytes, secrets: list[bytes]) -> None:
    assert len(secrets) == 2 and all(secrets)
    assert logs  # the stack did log something
    for secret in secrets:
        assert secret not in logs, "a password appears in the logs"
