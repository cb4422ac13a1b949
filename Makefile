# Student dashboard: each target is the `docker compose` command it shows
# (Compose reads .env itself), plus the tests and the benchmarks.
SHELL := /bin/bash
.DEFAULT_GOAL := help

COMPOSE := docker compose
SERVICE ?=
SERVICES := proxy api db redis
PYTHON := .venv/bin/python
PYTEST_ARGS ?=
CONNECTIONS ?= 16
DURATION ?= 10
SOAK_SECONDS ?= 300
# The tiers of make test that need an engine, in order (tests/engine/run.sh runs them).
ENGINE_TIERS := test-integration test-e2e

.PHONY: help up down ps logs stop start restart kill pause unpause psql redis-cli backup restore rotate-secrets redis-check-aof clean deps-test lint test test-engine $(ENGINE_TIERS) test-swarm swarm-tier swarm-up swarm-down swarm-clean bench soak requirements kubernetes-files

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-16s %s\n", $$1, $$2}'

define require_service
	@case " $(SERVICES) " in *" $(SERVICE) "*) ;; *) echo "usage: make $@ SERVICE=<$(SERVICES)>" >&2; exit 2;; esac
endef

up: ## start the stack, return once healthy, print the URLs
	@# A one-shot that fails says why in its log: shown here, not only its exit code.
	$(COMPOSE) up -d --wait --wait-timeout 300 || { $(COMPOSE) logs --no-log-prefix secrets migrate | tail -n 20 >&2; exit 1; }
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
restart: ## restart one service (SERVICE=...), or every one
	$(COMPOSE) restart $(SERVICE)
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
backup: ## an archive of the running stack's data and secrets, in backups/ (0600: it holds the secrets)
	deploy/backup/backup.sh
restore: ## an archive of make backup into a stack with no data (make clean first): make restore FILE=...
	deploy/backup/restore.sh "$(FILE)"
rotate-secrets: ## new passwords for every secret, applied where they are checked; no restart
	$(COMPOSE) run --rm rotate
redis-check-aof: ## repair a damaged AOF that keeps Redis from starting, then skip the counter ahead (SKIP=10000)
	redis/repair-aof.sh
clean: ## remove the containers and the data (asks, unless CI=true)
	@[ "$(CI)" = true ] || { read -rp "Delete the data (database, counter, secrets)? [y/N] " a; [[ $$a =~ ^[yYoO] ]]; }
	$(COMPOSE) down --volumes --remove-orphans

deps-test: ## install what the tests need (Debian packages, .venv, linters)
	@tools/install.sh

lint: deps-test ## static checks and unit tests (no engine needed)
	.venv/bin/ruff check app bench tests
	.venv/bin/ruff format --check app bench tests
	.venv/bin/mypy app bench
	.venv/bin/pytest tests/static tests/unit $(PYTEST_ARGS)

test: lint test-engine ## lint and unit, then integration and end-to-end on a Docker engine (make test-swarm: the swarm)

test-engine: deps-test ## integration and end-to-end on an engine: the one that answers, or one of the tests' own
	tests/engine/run.sh make --no-print-directory $(ENGINE_TIERS) PYTEST_ARGS="$(PYTEST_ARGS)"

test-swarm: deps-test ## the stack on a Docker Swarm, on the same engine: rolling update and a killed task under load
	tests/engine/run.sh make --no-print-directory swarm-tier PYTEST_ARGS="$(PYTEST_ARGS)"

# Each of these needs an engine and a Compose project of the tests' own:
# tests/engine/run.sh selects both. Alone: tests/engine/run.sh make test-e2e
test-integration: ## the API in-process against the product's db and redis containers
	.venv/bin/pytest tests/integration $(PYTEST_ARGS)
test-e2e: ## the whole stack on 8080/8000, driven through make, with headless Chromium
	.venv/bin/pytest tests/e2e -m "not swarm" $(PYTEST_ARGS)
swarm-tier:
	.venv/bin/pytest tests/e2e -m swarm $(PYTEST_ARGS)

swarm-up: ## deploy on Docker Swarm (a one-node swarm if none): API_REPLICAS=3, STACK=student-dashboard-swarm
	deploy/swarm/swarm.sh up
swarm-down: ## remove the swarm stack, keep its data; leave the swarm if swarm-up created it
	deploy/swarm/swarm.sh down
swarm-clean: ## swarm-down, and delete the stack's volumes and secrets
	deploy/swarm/swarm.sh clean

bench: deps-test ## wrk through the edge of a fresh stack of its own; writes docs/benchmarks.md
	tests/engine/run.sh $(PYTHON) -m bench.run --connections $(CONNECTIONS) --duration $(DURATION)

soak: deps-test ## sustained load while Redis and the DB go down and up (SOAK_SECONDS, max 600)
	tests/engine/run.sh $(PYTHON) -m bench.soak --seconds $(SOAK_SECONDS)

requirements: ## recompile requirements*.txt (pins + hashes) from requirements*.in
	.venv/bin/pip install --quiet pip-tools
	.venv/bin/pip-compile -q --generate-hashes --strip-extras --allow-unsafe --no-emit-index-url --no-emit-find-links -o requirements.txt requirements.in
	.venv/bin/pip-compile -q --generate-hashes --strip-extras --allow-unsafe --no-emit-index-url --no-emit-find-links -o requirements-dev.txt requirements-dev.in
	.venv/bin/pip-compile -q --generate-hashes --strip-extras --allow-unsafe --no-emit-index-url --no-emit-find-links -o tools/checkov/requirements.txt tools/checkov/requirements.in

kubernetes-files: ## copy the files the Kubernetes ConfigMaps hold into deploy/kubernetes/base/files/ (kustomize reads nothing outside)
	rm -rf deploy/kubernetes/base/files
	@for f in nginx/nginx.conf nginx/default.conf.template frontend/index.html redis/redis.conf sqlfiles/*.sql; do \
	  install -D -m 0644 "$$f" "deploy/kubernetes/base/files/$$f" || exit 1; done
