#!/usr/bin/env bash
# The engine tier of `make test`: the end-to-end suite (make test-docker) on
# the real Compose stack, then the stack on a one-node swarm (make
# test-swarm); or the command given (make bench MODE=docker). Always on the
# tier's own engine (tests/engine/engine.sh: its own socket and data root),
# never on another engine of the machine: the e2e fixtures run `make clean`
# (`docker compose down --volumes`), which would delete a developer's data.
# When that engine does not answer, installs it if needed, starts it and
# stops it at the end. The registry images are replaced by local stand-ins
# (compose.standins.yml), the only difference from a user's run.
set -euo pipefail
cd "$(dirname "$0")/../.."
engine=tests/engine

started_here=false
stop_own_engine() {
  if $started_here; then "$engine/engine.sh" stop; fi
}
trap stop_own_engine EXIT

# Set before any docker command, so none reaches the ambient engine
# (DOCKER_HOST wins over a DOCKER_CONTEXT; unset anyway).
DOCKER_HOST=$("$engine/engine.sh" host)
export DOCKER_HOST
unset DOCKER_CONTEXT
if ! docker info >/dev/null 2>&1; then
  "$engine/engine.sh" install
  "$engine/engine.sh" start
  started_here=true
fi

"$engine/images/build.sh"

export COMPOSE_FILE="docker-compose.yml:$engine/compose.standins.yml"
# A command to run there (make bench-engine), by default the e2e suite.
if [ $# -gt 0 ]; then
  "$@"
else
  make --no-print-directory test-docker PYTEST_ARGS="${PYTEST_ARGS:-}"
  make --no-print-directory test-swarm PYTEST_ARGS="${PYTEST_ARGS:-}"
fi
