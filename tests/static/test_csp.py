"""The page's Content-Security-Policy cannot drift from the page itself."""

import base64
import hashlib
import re

from tests.conftest import REPO_ROOT
from tests.static.compose import TEMPLATE


def inline_hashes(tag: str) -> set[str]:
    html = (REPO_ROOT / "frontend" / "index.html").read_text(encoding="utf-8")
    blocks = re.findall(rf"<{tag}>(.*?)</{tag}>", html, re.DOTALL)
    return {"'sha256-" + base64.b64encode(hashlib.sha256(b.encode()).digest()).decode() + "'" for b in blocks}


def page_policy() -> dict[str, list[str]]:
    page_server = TEMPLATE.read_text().split("listen 8000")[0]
    (policy,) = re.findall(r'add_header Content-Security-Policy "([^"]+)" always;', page_server)
    directives = [d.split() for d in policy.split(";") if d.strip()]
    return {d[0]: d[1:] for d in directives}


def test_inline_script_and_style_are_allowed_by_their_hashes_only() -> None:
    policy = page_policy()
    assert set(policy["script-src"]) == inline_hashes("script") != set()
    assert set(policy["style-src"]) == inline_hashes("style") != set()
    assert not any("unsafe" in value for values in policy.values() for value in values)


def test_nothing_else_is_loadable_and_only_the_api_is_reachable() -> None:
    policy = page_policy()
    assert policy["default-src"] == ["'none'"]
    assert policy["connect-src"] == ["http://localhost:8000"]  # the page's API_URL
    assert policy["img-src"] == ["'none'"]
    assert policy["frame-ancestors"] == ["'none'"]
    assert policy["base-uri"] == ["'none'"] and policy["form-action"] == ["'none'"]
