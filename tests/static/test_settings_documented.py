import re

from app.settings import SECRET_SETTINGS, Settings
from tests.conftest import REPO_ROOT


def test_every_setting_is_documented_in_env_example() -> None:
    documented = set(re.findall(r"^#?\s*([A-Z_]+)=", (REPO_ROOT / ".env.example").read_text(), re.MULTILINE))
    names = {name.upper() for name in Settings.model_fields}
    # Secrets are documented as their *_FILE variables.
    expected = names - {name.upper() for name in SECRET_SETTINGS}
    assert expected <= documented, expected - documented
