import re

from app.settings import Settings
from tests.conftest import REPO_ROOT


def test_every_setting_is_documented_in_env_example() -> None:
    documented = set(re.findall(r"^#?\s*([A-Z_]+)=", (REPO_ROOT / ".env.example").read_text(), re.MULTILINE))
    names = {name.upper() for name in Settings.model_fields}
    # Plain password variables exist only to be refused with their *_FILE twin.
    expected = names - {"POSTGRES_PASSWORD", "REDIS_PASSWORD"}
    assert expected <= documented, expected - documented
