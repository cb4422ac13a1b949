"""Render the shared nginx template the way the nginx image does.

The image runs `envsubst "$defined_envs"`: only ${NAME} of variables defined in
its environment are replaced, everything else (nginx's $host...) is kept.
"""

import re
from collections.abc import Mapping
from pathlib import Path

from native.config import REPO_ROOT, NativeConfig

TEMPLATE = REPO_ROOT / "nginx" / "default.conf.template"
MAIN_CONF = REPO_ROOT / "nginx" / "nginx.conf"
_PLACEHOLDER = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


def render(template: str, variables: Mapping[str, str]) -> str:
    return _PLACEHOLDER.sub(lambda m: variables.get(m.group(1), m.group(0)), template)


def native_variables(config: NativeConfig) -> dict[str, str]:
    return {
        "EDGE_LISTEN_ADDRESS": "127.0.0.1",
        "FRONTEND_ROOT": str(REPO_ROOT / "frontend"),
        "API_UPSTREAM": f"unix:{config.api_socket}",
        # A fixed address: nothing to re-resolve.
        "API_UPSTREAM_RESOLVE": "",
        # The upstream is a socket path: nginx never resolves a name natively,
        # but the template's resolver directive needs an address.
        "NGINX_LOCAL_RESOLVERS": "127.0.0.1",
    }


def native_main_config(config: NativeConfig) -> str:
    """The container's nginx.conf with its absolute paths moved under the
    native prefix (-p): the same directives, writable by an unprivileged user."""
    # Paths inside the container (not this machine's /tmp), mapped to the prefix.
    relocated = {
        "/var/log/nginx/error.log": str(config.log_file("proxy")),
        "/var/log/nginx/access.log": str(config.log_file("proxy")),
        "/tmp/nginx.pid": "nginx.pid",  # noqa: S108
        "/tmp/": "tmp/",  # noqa: S108
    }
    # One pass, longest path first: a replacement is never rewritten again.
    pattern = re.compile("|".join(map(re.escape, sorted(relocated, key=len, reverse=True))))
    return pattern.sub(lambda match: relocated[match.group(0)], MAIN_CONF.read_text())


def write_native_config(config: NativeConfig) -> Path:
    """Lay out the native nginx prefix; returns its main configuration file."""
    # Where the container's entrypoint renders it: /tmp/conf.d, here tmp/conf.d.
    conf_d = config.nginx_dir / "tmp" / "conf.d"
    conf_d.mkdir(parents=True, exist_ok=True)
    rendered = render(TEMPLATE.read_text(), native_variables(config))
    (conf_d / "default.conf").write_text(rendered)
    main_conf = config.nginx_dir / "nginx.conf"
    main_conf.write_text(native_main_config(config))
    return main_conf
