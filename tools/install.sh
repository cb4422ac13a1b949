#!/usr/bin/env bash
# What the tests and the benchmarks need on the machine that runs them (the
# stack itself needs Docker only): Debian packages when a command is missing,
# then the project's venv and its linters. Idempotent, and quiet when
# everything is already there.
set -euo pipefail
cd "$(dirname "$0")/.."

# command -> Debian package that provides it
declare -A packages=(
  [python3]=python3 [venv]=python3-venv [curl]=curl [wrk]=wrk
  [chromium]=chromium [emoji-font]=fonts-noto-color-emoji [node]=nodejs [npm]=npm
)

has() {
  case "$1" in
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
# again only when they change.
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

venv_with .venv requirements.txt requirements-dev.txt
[ -x tools/node_modules/.bin/dclint ] || npm ci --prefix tools --no-audit --no-fund --loglevel=error
# Its own venv: its pins would downgrade the dev tools (tools/checkov/requirements.in).
venv_with tools/checkov/.venv tools/checkov/requirements.txt
