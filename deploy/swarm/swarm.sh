#!/usr/bin/env bash
# The stack on Docker Swarm (make swarm-up / swarm-down / swarm-clean).
#   up     init a one-node swarm if the engine is in none (and say so on the
#          node, so that `down` leaves it again), build the api image, create
#          the Docker secrets, deploy, wait until the edge serves the API.
#   down   remove the stack (volumes and secrets kept, like `make down`); leave
#          the swarm if `up` created it.
#   clean  down, then remove the stack's volumes and secrets too.
# STACK (student-dashboard-swarm: not the Compose project's name, so the two
# never share a data volume), API_REPLICAS (3), SWARM_ADVERTISE_ADDR
# (127.0.0.1: one node). COMPOSE_FILE, when set, replaces docker-compose.yml
# (the engine tier adds its stand-in images).
set -euo pipefail
cd "$(dirname "$0")/../.."

STACK=${STACK:-student-dashboard-swarm}
export API_REPLICAS=${API_REPLICAS:-3}
# The API role's connection limit counts every worker of every replica, plus
# one replica starting during a rolling update (start-first).
export API_ROLE_WORKERS=$(((API_REPLICAS + 1) * ${API_WORKERS:-2}))
export COMPOSE_FILE="${COMPOSE_FILE:-docker-compose.yml}:deploy/swarm/compose.swarm.yml"
HOME_LABEL=student-dashboard.home
OURS_LABEL=student-dashboard.swarm-created-by-make
SECRETS_VOLUME="${STACK}_secrets"
SECRETS_DIR=/run/dashboard-secrets

say() { echo "swarm: $*" >&2; }
node_id() { docker info --format '{{.Swarm.NodeID}}'; }
api_image() {
  docker compose config --format json | python3 -c 'import json, sys; print(json.load(sys.stdin)["services"]["api"]["image"])'
}

# The api image, with the secrets volume mounted, as its own non-root user:
# in_api_image [docker run options...] -- command...
in_api_image() {
  : "${API_IMAGE:=$(api_image)}"
  local options=()
  while [ "$1" != "--" ]; do options+=("$1"); shift; done
  shift
  docker run --rm --network none --read-only --cap-drop ALL --security-opt no-new-privileges \
    -v "$SECRETS_VOLUME:$SECRETS_DIR" ${options[@]+"${options[@]}"} "$API_IMAGE" "$@"
}

# The Compose `secrets` service's environment as compose resolves it (.env,
# the shell): the settings the Redis ACL is written from, as --env options.
secrets_settings() {
  docker compose config --format json | python3 -c 'import json, sys
environment = json.load(sys.stdin)["services"]["secrets"].get("environment") or {}
for key, value in environment.items():
    if value is not None:
        print(f"--env={key}={value}")'
}

# As under Compose, the generator sees the database's volume read-only (the
# home node holds it), and so never makes an owner password for a database
# already initialised. Before the first deploy there is no volume yet, and
# nothing to protect: DB_DATA_DIR is left out rather than a volume created.
with_database_volume() {
  local option data_dir=""
  for option in "$@"; do
    case $option in
      --env=DB_DATA_DIR=*) data_dir=${option#--env=DB_DATA_DIR=} ;;
      *) echo "$option" ;;
    esac
  done
  if [ -n "$data_dir" ] && docker volume inspect "${STACK}_db-data" >/dev/null 2>&1; then
    echo "--env=DB_DATA_DIR=$data_dir"
    echo "--volume=${STACK}_db-data:$data_dir:ro"
  fi
}

# The one node that holds the volumes and the secret files (the edge's files
# travel as configs): the first where swarm-up ran, whichever manager runs it
# later.
label_home_node() {
  local homes
  homes=$(docker node ls -q --filter "node.label=$HOME_LABEL=true")
  case $(wc -w <<<"$homes") in
    0) docker node update --label-add "$HOME_LABEL=true" "$(node_id)" >/dev/null ;;
    1) ;;
    *)
      say "several nodes carry $HOME_LABEL (an older swarm-up labelled each node it ran on): keep the one"
      say "that holds the volumes, and on each other: docker node update --label-rm $HOME_LABEL NODE"
      exit 1
      ;;
  esac
}

on_home_node() {
  [ "$(docker node inspect --format "{{ index .Spec.Labels \"$HOME_LABEL\" }}" "$(node_id)")" = true ]
}

join_or_create_swarm() {
  if [ "$(docker info --format '{{.Swarm.LocalNodeState}}')" = active ]; then return; fi
  say "no swarm on this engine: creating a one-node swarm"
  docker swarm init --advertise-addr "${SWARM_ADVERTISE_ADDR:-127.0.0.1}" >/dev/null
  docker node update --label-add "$OURS_LABEL=true" "$(node_id)" >/dev/null
}

# Generated like under Compose (app.init_secrets fills a volume, keeping what
# it holds, with the same settings), then each file becomes a Docker secret:
# they travel through a pipe, never through a file or a variable of this
# machine. Swarm cannot replace a secret a service uses: one that no longer
# matches its file (the ACL, after a new REDIS_USER or COUNTER_KEY) stops the
# deploy and says how to renew it.
create_secrets() {
  local needed=$1 settings name digest recorded
  if ! on_home_node || ! docker volume inspect "$SECRETS_VOLUME" >/dev/null 2>&1; then
    if docker_secrets_exist "$needed"; then
      say "the Docker secrets of $STACK exist and this node holds no copy of their files (the volume"
      say "$SECRETS_VOLUME of the home node): deploying with them as they are, none made."
      say "A new REDIS_USER or COUNTER_KEY rewrites the ACL: run swarm-up on the home node for it."
      return
    fi
    if ! on_home_node; then
      say "a secret of $STACK is missing: only the home node, which holds the secret files and the"
      say "database's volume, may make one (docker node ls --filter node.label=$HOME_LABEL=true)"
      exit 1
    fi
  fi
  settings=$(secrets_settings)
  local options=()
  if [ -n "$settings" ]; then mapfile -t options <<<"$settings"; fi
  mapfile -t options < <(with_database_volume ${options[@]+"${options[@]}"})
  if ! in_api_image ${options[@]+"${options[@]}"} -- python -m app.init_secrets; then
    say "here the secret files live in the volume $SECRETS_VOLUME (mounted at $SECRETS_DIR), not Compose's"
    exit 1
  fi
  for name in $(in_api_image -- ls "$SECRETS_DIR"); do
    digest=$(in_api_image -- sha256sum "$SECRETS_DIR/$name" | cut -d' ' -f1)
    if ! docker secret inspect "${STACK}_$name" >/dev/null 2>&1; then
      in_api_image -- cat "$SECRETS_DIR/$name" |
        docker secret create --label "sha256=$digest" "${STACK}_$name" - >/dev/null
      continue
    fi
    recorded=$(docker secret inspect --format '{{index .Spec.Labels "sha256"}}' "${STACK}_$name")
    if [ -n "$recorded" ] && [ "$recorded" != "$digest" ]; then
      say "the secret ${STACK}_$name no longer matches $name in $SECRETS_VOLUME (the file made again, or a new REDIS_USER or COUNTER_KEY?)."
      say "Renew it (data kept): STACK=$STACK make swarm-down, docker secret rm ${STACK}_$name if it is" \
        "still there (a swarm that swarm-up created is left, with its secrets), then swarm-up again"
      exit 1
    fi
  done
}

docker_secrets_exist() {
  local name
  for name in $1; do
    docker secret inspect "${STACK}_$name" >/dev/null 2>&1 || return 1
  done
}

# The names of a top-level section of the stack file: names_in configs "$stack_file"
names_in() {
  python3 -c 'import json, sys; print("\n".join(json.load(sys.stdin)[sys.argv[1]]))' "$1" <<<"$2"
}

# Every replica of every service running (and healthy: Swarm counts a task
# with a healthcheck as running once healthy), the job done, and the edge
# serving the API.
converged() {
  docker service ls --filter "label=com.docker.stack.namespace=$STACK" --format '{{.Mode}}|{{.Replicas}}' |
    awk -F'|' '$1 == "replicated" { split($2, n, "/"); if (n[1] != n[2]) bad = 1 }
               $1 == "replicated job" && $2 !~ /\(1\/1 completed\)/ { bad = 1 }
               END { exit bad }'
}

wait_until_serving() {
  local deadline=$((SECONDS + ${SWARM_WAIT_SECONDS:-300}))
  until converged && curl -fsS -o /dev/null http://127.0.0.1:8000/ 2>/dev/null; do
    if [ $SECONDS -ge $deadline ]; then
      docker stack ps --no-trunc "$STACK" >&2
      say "the stack does not serve after ${SWARM_WAIT_SECONDS:-300}s"
      exit 1
    fi
    sleep 1
  done
}

up() {
  join_or_create_swarm
  label_home_node
  docker compose build api
  local stack_file
  stack_file=$(docker compose -p "$STACK" config --format json | python3 deploy/swarm/stack.py "$STACK")
  create_secrets "$(names_in secrets "$stack_file")"
  # Waits until every service has converged: a task replaced by this deploy
  # (a new image, a changed config) is replaced before the wait for the edge.
  if ! timeout "${SWARM_WAIT_SECONDS:-300}" docker stack deploy --detach=false --compose-file - "$STACK" \
    <<<"$stack_file" >/dev/null; then
    docker stack ps --no-trunc "$STACK" >&2
    say "the stack did not converge within ${SWARM_WAIT_SECONDS:-300}s"
    exit 1
  fi
  wait_until_serving
  remove_unused_configs "$stack_file"
  say "$STACK: $API_REPLICAS api replicas"
  echo "Dashboard: http://localhost:8080"
  echo "API:       http://localhost:8000/"
}

# A changed file is a new config (stack.py): those the deployed stack no
# longer names go.
remove_unused_configs() {
  local current name
  current=$(names_in configs "$1")
  for name in $(docker config ls --filter "label=com.docker.stack.namespace=$STACK" --format '{{.Name}}'); do
    if ! grep -qxF "$name" <<<"$current"; then
      docker config rm "$name" >/dev/null || say "the config $name is still in use: left"
    fi
  done
}

wait_until_removed() {
  # Tasks and networks go away after `stack rm` returns; volumes in use by a
  # stopping task cannot be removed yet.
  local deadline=$((SECONDS + 60))
  while docker ps -q --filter "label=com.docker.stack.namespace=$STACK" | grep -q . ||
    docker network ls -q --filter "label=com.docker.stack.namespace=$STACK" | grep -q .; do
    [ $SECONDS -lt $deadline ] || { say "the stack's containers are still there"; return 1; }
    sleep 1
  done
}

down() {
  if [ "$(docker info --format '{{.Swarm.LocalNodeState}}')" != active ]; then return; fi
  docker stack rm "$STACK" >/dev/null 2>&1 || true
  wait_until_removed
}

leave_if_ours() {
  if [ "$(docker info --format '{{.Swarm.LocalNodeState}}')" != active ]; then return; fi
  if [ "$(docker node inspect --format "{{ index .Spec.Labels \"$OURS_LABEL\" }}" "$(node_id)")" = true ]; then
    if [ -z "$(docker stack ls --format '{{.Name}}')" ]; then
      say "leaving the swarm make swarm-up created"
      docker swarm leave --force >/dev/null
    fi
  fi
}

clean() {
  down
  local secrets
  secrets=$(docker secret ls -q --filter "name=${STACK}_" 2>/dev/null || true)
  [ -z "$secrets" ] || docker secret rm $secrets >/dev/null
  docker volume ls -q --filter "label=com.docker.stack.namespace=$STACK" | xargs -r docker volume rm >/dev/null
  docker volume rm "$SECRETS_VOLUME" >/dev/null 2>&1 || true
}

case "${1:-}" in
  up) up ;;
  down) down && leave_if_ours ;;
  clean) clean && leave_if_ours ;;
  *) echo "usage: $0 up|down|clean" >&2; exit 2 ;;
esac
