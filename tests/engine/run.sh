#!/usr/bin/env bash
# Runs a command (make test-engine's tiers, make bench, make soak) on a
# Docker engine, under a Compose project of the tests' own:
#   tests/engine/run.sh make --no-print-directory test-integration test-e2e test-swarm
# The engine: the one that answers (DOCKER_HOST, the current context, the
# default socket), as it is; or, on a machine with none, an engine of the
# tests' own (engine.sh: Debian's docker.io, its own socket and data root),
# started here and stopped at the end.
# The images: the registry's, as a user gets them; where no registry can be
# reached, stand-ins built from Debian's packages (images/build.sh,
# compose.standins.yml changes only the image references).
# The project: COMPOSE_PROJECT_NAME=student-dashboard-test (and the
# integration tier's student-dashboard-it-*). The tests remove their own
# containers and volumes, never those of a user's `student-dashboard`.
set -euo pipefail
cd "$(dirname "$0")/../.."
engine=tests/engine

export COMPOSE_PROJECT_NAME=${COMPOSE_PROJECT_NAME:-student-dashboard-test}
if [ "$COMPOSE_PROJECT_NAME" = student-dashboard ]; then
  echo "run.sh: student-dashboard is the user's own project; the tests need another" >&2
  exit 2
fi

started_here=false
stop_own_engine() {
  if $started_here; then "$engine/engine.sh" stop; fi
}
trap stop_own_engine EXIT

if docker info >/dev/null 2>&1; then
  echo "engine: the one that answers ($(docker context show 2>/dev/null || echo default))" >&2
else
  # Set before any other docker command, so none reaches another engine.
  DOCKER_HOST=$("$engine/engine.sh" host)
  export DOCKER_HOST
  unset DOCKER_CONTEXT
  # Only this engine may be restarted by a test (tests/e2e/test_reboot.py).
  export TESTS_OWN_ENGINE=1
  if ! docker info >/dev/null 2>&1; then
    "$engine/engine.sh" install
    "$engine/engine.sh" start
    started_here=true
  fi
fi

# What an interrupted run left of the tests' own project (ports included).
docker compose down --volumes --remove-orphans --timeout 5 >/dev/null 2>&1 || true
# The page calls http://localhost:8000: the tests' stack needs 8080 and 8000.
for port in 8080 8000; do
  if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
    echo "port $port is in use (a running stack? make down): the tests' stack needs it" >&2
    exit 1
  fi
done

if [ -z "${STANDINS:-}" ] && timeout 300 docker compose pull --quiet --ignore-buildable >/dev/null 2>&1; then
  echo "images: the registry's" >&2
else
  echo "images: no registry reachable, local stand-ins (tests/engine/images)" >&2
  "$engine/images/build.sh"
  export COMPOSE_FILE="docker-compose.yml:$engine/compose.standins.yml"
fi

"$@"
