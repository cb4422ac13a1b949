#!/usr/bin/env bash
# A Docker engine for the engine tier of `make test`, on a machine that has none.
#   tests/engine/engine.sh install   Debian's docker.io 26 + Compose v2 (exact versions)
#   tests/engine/engine.sh start     dockerd on its own socket, data root and pid file
#   tests/engine/engine.sh stop      stops the dockerd this script started (pid file)
#   tests/engine/engine.sh host      prints the DOCKER_HOST of that engine
# It never touches another daemon: start refuses a live pid file it did not
# write, stop signals only the pid in its own file.
set -euo pipefail

# Outside the repository: the data root caches the stand-in images between runs.
ENGINE_DATA=${ENGINE_DATA:-/var/lib/student-dashboard-engine}
# Short: containerd's sockets live under the exec root (108-byte socket paths).
ENGINE_RUN=${ENGINE_RUN:-/run/sd-engine}
SOCKET="$ENGINE_RUN/docker.sock"
PIDFILE="$ENGINE_RUN/dockerd.pid"
LOG="$ENGINE_DATA/dockerd.log"

# Bookworm's docker.io is 20.10: healthcheck.start_interval needs Engine 25.
# Trixie's build installs on bookworm with bookworm's containerd and runc
# (trixie's runc needs a newer libc6). Exact versions, low pin priority: no
# other package comes from trixie.
TRIXIE_PACKAGES=(
  docker.io=26.1.5+dfsg1-9+deb13u1+b1
  docker-cli=26.1.5+dfsg1-9+deb13u1+b1
  docker-compose=2.26.1-4
  docker-buildx=0.13.1+ds1-3
  # Checks the alert rules of deploy/monitoring (tests/e2e/test_observability.py).
  promtool=2.53.3+ds1-2
)
TRIXIE_SOURCE=/etc/apt/sources.list.d/student-dashboard-trixie.sources
TRIXIE_PIN=/etc/apt/preferences.d/student-dashboard-trixie

log() { echo "engine: $*" >&2; }

installed() {
  dockerd --version 2>/dev/null | grep -q ' 26\.' &&
    docker compose version >/dev/null 2>&1 &&
    command -v debootstrap >/dev/null &&
    command -v promtool >/dev/null
}

install_engine() {
  installed && return 0
  [ "$(id -u)" -eq 0 ] || { log "run as root to install the engine"; exit 1; }
  log "installing docker.io 26, Compose v2 and promtool from Debian trixie (pinned)"
  . /etc/os-release
  if [ "${VERSION_CODENAME:-}" != trixie ]; then
    cat >"$TRIXIE_SOURCE" <<SOURCE
Types: deb
URIs: http://deb.debian.org/debian
Suites: trixie
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SOURCE
    cat >"$TRIXIE_PIN" <<PIN
Package: *
Pin: release n=trixie
Pin-Priority: 100
PIN
  fi
  apt-get update -qq
  # policy-rc.d (Debian's container images) keeps apt from starting a daemon.
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    "${TRIXIE_PACKAGES[@]}" debootstrap ca-certificates >/dev/null
}

running_pid() {
  [ -s "$PIDFILE" ] && kill -0 "$(cat "$PIDFILE")" 2>/dev/null && cat "$PIDFILE"
}

start_engine() {
  if running_pid >/dev/null; then
    DOCKER_HOST="unix://$SOCKET" docker info >/dev/null 2>&1 && return 0
  fi
  mkdir -p "$ENGINE_DATA" "$ENGINE_RUN"
  log "starting dockerd (socket $SOCKET, data $ENGINE_DATA/docker)"
  # No iptables here: no NAT, no route out for containers (nothing needs one);
  # published ports go through docker-proxy on loopback.
  setsid dockerd \
    --host "unix://$SOCKET" \
    --pidfile "$PIDFILE" \
    --data-root "$ENGINE_DATA/docker" \
    --exec-root "$ENGINE_RUN/exec" \
    --iptables=false --ip6tables=false --ip-forward=false --ip-masq=false \
    --storage-driver=overlay2 \
    >>"$LOG" 2>&1 </dev/null &
  for _ in $(seq 1 60); do
    DOCKER_HOST="unix://$SOCKET" docker info >/dev/null 2>&1 && return 0
    sleep 0.5
  done
  log "dockerd did not answer in 30 s; last lines of $LOG:"
  tail -n 20 "$LOG" >&2
  exit 1
}

# dockerd leaves its network namespace mounts under the exec root: unmount
# them so nothing of this engine stays behind.
release_mounts() {
  awk -v root="$ENGINE_RUN/" 'index($2, root) == 1 {print $2}' /proc/mounts |
    while read -r mount; do umount "$mount" 2>/dev/null || true; done
}

stop_engine() {
  local pid
  pid=$(running_pid) || { log "no dockerd of ours is running"; return 0; }
  log "stopping dockerd (pid $pid)"
  kill -TERM "$pid"
  # dockerd stops every container first, each with its own grace period
  # (the database's is 90 s).
  for _ in $(seq 1 240); do
    if ! kill -0 "$pid" 2>/dev/null; then
      release_mounts
      return 0
    fi
    sleep 0.5
  done
  log "dockerd $pid still running after 120 s"
  exit 1
}

case "${1:-}" in
  install) install_engine ;;
  start) start_engine ;;
  stop) stop_engine ;;
  host) echo "unix://$SOCKET" ;;
  *) echo "usage: $0 install|start|stop|host" >&2; exit 2 ;;
esac
