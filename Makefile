# Student dashboard: the same targets with Docker Compose or natively.
#   MODE=docker  Docker Compose (default when a Docker engine answers)
#   MODE=native  local processes from Debian's packages (no engine needed)
SHELL := /bin/bash
.DEFAULT_GOAL := help

# .env (optional, overrides only) applies to both modes: compose reads it
# itself; for the native runner it is exported here. `?=`: a variable the
# shell sets wins over .env, as with docker compose.
ifneq (,$(wildcard .env))
ENV_FILE_NAMES := $(shell sed -n 's/^\([A-Z_][A-Z0-9_]*\)=.*/\1/p' .env)
$(foreach name,$(ENV_FILE_NAMES),$(eval $(name) ?= $(shell sed -n 's/^$(name)=//p' .env)))
export $(ENV_FILE_NAMES)
endif

MODE ?= $(shell docker info >/dev/null 2>&1 && echo docker || echo native)
SERVICE ?=
PYTHON := .venv/bin/python
COMPOSE := docker compose
NATIVE := $(PYTHON) -m native
SERVICES := proxy api db redis
PYTEST_ARGS ?=
CONNECTIONS ?= 16
DURATION ?= 10
SOAK_SECONDS ?= 300

.PHONY: help up down ps logs stop start kill pause unpause psql redis-cli clean test test-native test-engine test-docker test-swarm swarm-up swarm-down swarm-clean lint bench bench-engine soak deps deps-test requirements

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-14s %s\n", $$1, $$2}'
	@echo "  (mode: $(MODE); force with MODE=docker|native)"

deps: ## install what the native stack needs (apt packages, .venv)
	@native/install.sh

deps-test: ## install what the tests need too (chromium, node tools, dev packages)
	@native/install.sh --test

# Both modes' clean delete the data: one question first, unless CI=true.
define confirm_clean
	@[ "$(CI)" = true ] || { read -rp "Delete the data (database, counter, secrets)? [y/N] " a; [[ $$a =~ ^[yYoO] ]]; }
endef

define require_service
	@case " $(SERVICES) " in *" $(SERVICE) "*) ;; *) echo "usage: make $@ SERVICE=<$(SERVICES)>" >&2; exit 2;; esac
endef

ifeq ($(MODE),docker)
up: ## start the stack, return once healthy, print the URLs
	$(COMPOSE) up -d --wait --wait-timeout 300
	@# Healthy containers, and the edge reaching the api too: it looks the
	@# api up by name, and a name asked before the api existed is retried
	@# after a resolver timeout.
	@command -v curl >/dev/null || exit 0; for i in $$(seq 1 60); do \
	  curl -fsS -o /dev/null "http://$${BIND_ADDRESS:-127.0.0.1}:8000/healthz" 2>/dev/null && exit 0; \
	  sleep 0.5; \
	done; echo "the edge does not reach the api: make logs SERVICE=proxy" >&2; exit 1
	@echo "Dashboard: http://localhost:8080"; echo "API:       http://localhost:8000/"
down: ## stop the stack, keep the data
	$(COMPOSE) down
ps: ## state of each service
	$(COMPOSE) ps -a
logs: ## logs (SERVICE=... for one)
	$(COMPOSE) logs --tail=200 $(SERVICE)
stop: ## stop one service: make stop SERVICE=redis
	$(require_service)
	$(COMPOSE) stop $(SERVICE)
start: ## start one service, return once healthy: make start SERVICE=redis
	$(require_service)
	@# --no-recreate: a service the restart policy is already bringing back
	@# (after make kill) is waited for, not replaced by a new container.
	$(COMPOSE) up -d --wait --no-deps --no-recreate $(SERVICE)
kill: ## crash one service (SIGKILL): make kill SERVICE=api
	$(require_service)
	@# From inside the container: PID 1 is docker-init (init: true) and its one
	@# child is the service, whose death ends the container like a crash, and
	@# the restart policy applies. Not `docker kill` (a manual stop: never
	@# restarted), nor a host PID (a VM's on Docker Desktop, anyone's under sudo).
	@# The exec session may die with the container it just crashed (137): that
	@# is the crash having happened, not a failure.
	$(COMPOSE) exec -T $(SERVICE) sh -c 'kill -KILL $$(cat /proc/1/task/1/children)' || [ $$? -eq 137 ]
pause: ## freeze one service (connections hang): make pause SERVICE=redis
	$(require_service)
	$(COMPOSE) pause $(SERVICE)
unpause: ## resume a frozen service
	$(require_service)
	$(COMPOSE) unpause $(SERVICE)
psql: ## psql on the stack's database (reads SQL from stdin when piped)
	@tty=; [ -t 0 ] || tty=-T; $(COMPOSE) exec $$tty db sh -c 'exec psql -v ON_ERROR_STOP=1 -U "$$POSTGRES_USER" -d "$$POSTGRES_DB"'
redis-cli: ## redis-cli on the stack's Redis as its admin user (reads commands from stdin when piped)
	@tty=; [ -t 0 ] || tty=-T; $(COMPOSE) exec $$tty redis sh -c 'REDISCLI_AUTH="$$(cat /run/dashboard-secrets/redis_admin_password)" exec redis-cli --user admin'
clean: ## remove the containers and the data (asks, unless CI=true)
	$(confirm_clean)
	$(COMPOSE) down --volumes --remove-orphans
else
# Natively each target is the runner's command of the same name
# (native/__main__.py); the one-service ones check SERVICE first.
ONE_SERVICE := stop start kill pause unpause
up start: deps
$(ONE_SERVICE):
	$(require_service)
	@$(NATIVE) $@ $(SERVICE)
up down ps psql:
	@$(NATIVE) $@
logs:
	@$(NATIVE) logs $(SERVICE)
clean:
	$(confirm_clean)
	@if [ -x $(PYTHON) ]; then $(NATIVE) clean; else rm -rf .native; fi
endif

define code_checks
	.venv/bin/ruff check app native bench tests
	.venv/bin/ruff format --check app native bench tests
	.venv/bin/mypy app native bench
endef

lint: deps-test ## static checks only (ruff, mypy, dclint, schema, hadolint, policies)
	$(code_checks)
	.venv/bin/pytest tests/static $(PYTEST_ARGS)

test: test-native ## everything: lint, unit, integration, end-to-end on the native stack, then on the engine
	tests/engine/run.sh

test-native: deps-test ## lint, unit, integration and end-to-end on the native stack only
	$(code_checks)
	.venv/bin/pytest $(PYTEST_ARGS)

test-engine: deps-test ## the engine tier alone: its own local engine (installed and started if needed), stand-in images, make test-docker
	tests/engine/run.sh

test-docker: ## the end-to-end suite against the real containers (needs a Docker engine)
	@docker info >/dev/null 2>&1 || { echo "make test-docker needs a Docker engine" >&2; exit 1; }
	@native/install.sh --docker
	E2E_MODE=docker .venv/bin/pytest tests/e2e $(PYTEST_ARGS)

test-swarm: ## the stack on a one-node Docker Swarm: Chromium, rolling update and a killed task under load (needs an engine)
	@docker info >/dev/null 2>&1 || { echo "make test-swarm needs a Docker engine" >&2; exit 1; }
	E2E_MODE=swarm .venv/bin/pytest tests/e2e/test_swarm.py $(PYTEST_ARGS)

swarm-up: ## deploy on Docker Swarm (a one-node swarm if none): API_REPLICAS=3, STACK=student-dashboard-swarm
	deploy/swarm/swarm.sh up
swarm-down: ## remove the swarm stack, keep its data; leave the swarm if swarm-up created it
	deploy/swarm/swarm.sh down
swarm-clean: ## swarm-down, and delete the stack's volumes and secrets
	deploy/swarm/swarm.sh clean

bench: deps-test ## wrk through the edge of a fresh stack (MODE); writes docs/benchmarks[-docker].md
	$(PYTHON) -m bench.run --mode $(MODE) --connections $(CONNECTIONS) --duration $(DURATION)

bench-engine: deps-test ## make bench MODE=docker on the engine tier's engine and stand-in images
	tests/engine/run.sh make --no-print-directory bench MODE=docker CONNECTIONS=$(CONNECTIONS) DURATION=$(DURATION)

soak: deps-test ## sustained load while Redis and the DB go down and up (SOAK_SECONDS, max 600)
	$(PYTHON) -m bench.soak --seconds $(SOAK_SECONDS)

requirements: ## recompile requirements*.txt (pins + hashes) from requirements*.in
	.venv/bin/pip install --quiet pip-tools
	.venv/bin/pip-compile -q --generate-hashes --strip-extras --allow-unsafe --no-emit-index-url --no-emit-find-links -o requirements.txt requirements.in
	.venv/bin/pip-compile -q --generate-hashes --strip-extras --allow-unsafe --no-emit-index-url --no-emit-find-links -o requirements-dev.txt requirements-dev.in
	.venv/bin/pip-compile -q --generate-hashes --strip-extras --allow-unsafe --no-emit-index-url --no-emit-find-links -o tools/checkov/requirements.txt tools/checkov/requirements.in
