#!/usr/bin/env bash
# Install what the native stack (and, with --test, the test suite) needs:
# Debian packages when a command is missing, then the project's venv and tools.
# Idempotent and quiet when everything is already there.
#   native/install.sh            runtime: postgresql, redis-server, nginx, venv
#   native/install.sh --test     + chromium, emoji font, node/npm, wrk, dev tools
#   native/install.sh --docker   only the venv with the dev tools: the stack runs
#                                in Docker, the browser is $CHROMIUM (make test-docker)
set -euo pipefail
cd "$(dirname "$0")/.."

with_test=false native=true
case "${1:-}" in
  --test) with_test=true ;;
  --docker) with_test=true native=false ;;
esac

# command -> Debian package that provides it
declare -A packages=([python3]=python3 [venv]=python3-venv)
if $native; then
  packages+=([initdb]=postgresql [redis-server]=redis-server [nginx]=nginx [curl]=curl)
fi
if $with_test && $native; then
  packages+=([chromium]=chromium [node]=nodejs [npm]=npm [emoji-font]=fonts-noto-color-emoji [wrk]=wrk)
fi

has() {
  case "$1" in
    initdb) compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null ;;
    venv) /usr/bin/python3 -c 'import ensurepip, venv' 2>/dev/null ;;
    python3) [ -x /usr/bin/python3 ] ;;
    emoji-font) [ -e /usr/share/fonts/truetype/noto/NotoColorEmoji.ttf ] ;;
    *) command -v "$1" >/dev/null 2>&1 ;;
  esac
}

missing=()
for cmd in "${!packages[@]}"; do
  has "$cmd" || missing+=("${packages[$cmd]}")
done

if [ ${#missing[@]} -gt 0 ]; then
  echo "install: Debian packages ${missing[*]}"
  if [ "$(id -u)" -eq 0 ]; then sudo=(); elif command -v sudo >/dev/null; then sudo=(sudo); else
    echo "install: run as root: apt-get update && apt-get install -y ${missing[*]}" >&2
    exit 1
  fi
  "${sudo[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# A venv at $1 with the hash-pinned requirements files that follow, installed
# again only when they change. Debian's python3 (not a pyenv one under
# /root): the stack's unprivileged user must be able to run it.
venv_with() {
  local venv=$1
  shift
  [ -x "$venv/bin/python" ] || /usr/bin/python3 -m venv "$venv"
  local stamp="$venv/.installed-$(cat "$@" | sha256sum | cut -c1-16)"
  if [ ! -e "$stamp" ]; then
    local args=()
    for file in "$@"; do args+=(-r "$file"); done
    "$venv/bin/pip" install --quiet --disable-pip-version-check --require-hashes "${args[@]}"
    touch "$stamp"
  fi
}

if $with_test; then venv_with .venv requirements.txt requirements-dev.txt; else venv_with .venv requirements.txt; fi

if $with_test && $native; then
  [ -x tools/node_modules/.bin/dclint ] || npm ci --prefix tools --no-audit --no-fund --loglevel=error
  # Its own venv: its pins would downgrade the dev tools (tools/checkov/requirements.in).
  venv_with tools/checkov/.venv tools/checkov/requirements.txt
fi
