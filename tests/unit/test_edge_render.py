import re
from pathlib import Path

from native.edge import TEMPLATE, render

COMPOSE_VARIABLES = {
    "EDGE_LISTEN_ADDRESS": "0.0.0.0",
    "FRONTEND_ROOT": "/usr/share/nginx/html",
    "API_UPSTREAM": "api:8000",
    "API_UPSTREAM_RESOLVE": "resolve",
    "NGINX_LOCAL_RESOLVERS": "127.0.0.11",
}


def test_only_defined_variables_are_substituted() -> None:
    text = "listen ${A}:80; set $x ${B}; proxy_set_header Host $host;"
    assert render(text, {"A": "1.2.3.4"}) == "listen 1.2.3.4:80; set $x ${B}; proxy_set_header Host $host;"


def test_the_template_needs_exactly_the_variables_both_runs_define() -> None:
    placeholders = set(re.findall(r"\$\{([A-Z_]+)\}", TEMPLATE.read_text()))
    assert placeholders == set(COMPOSE_VARIABLES)
    rendered = render(TEMPLATE.read_text(), COMPOSE_VARIABLES)
    assert "${" not in rendered
    assert "server api:8000 max_fails=0 resolve;" in rendered
    assert "resolver 127.0.0.11 valid=2s" in rendered
    assert "proxy_set_header Origin $api_origin;" in rendered  # nginx's own variables kept


def test_the_native_main_config_is_the_containers_with_paths_moved() -> None:
    from native.config import NativeConfig
    from native.edge import MAIN_CONF, native_main_config

    config = NativeConfig(state_dir=Path("/native-state"), db_port=1, redis_port=2)
    native = re.sub(r"#.*", "", native_main_config(config))
    # Every directive of the container's file is kept (same worker count,
    # same limits); only the paths an unprivileged process cannot write move.
    directive = re.compile(r"^\s*([a-z_]+)\b", re.MULTILINE)
    assert directive.findall(native) == directive.findall(MAIN_CONF.read_text())
    assert not re.search(r"\s/(tmp|var|etc/nginx/conf\.d)/", native)
    assert str(config.log_file("proxy")) in native
