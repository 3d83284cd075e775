# Portico: the two commands a newcomer needs are `make run` and `make test`.
SHELL := /bin/bash
.DEFAULT_GOAL := help

UV := $(shell command -v uv 2>/dev/null || echo "python3 -m uv")
VENV_BIN := .venv/bin
PYTEST_ARGS ?=
ATTACK_ARGS ?=
FUZZ_ARGS ?=
CONFORMANCE_URL ?= http://127.0.0.1:8000
CONFORMANCE_FOLDERS ?=

PY ?= python3.13
PY_VENV = .venv-$(notdir $(PY))

.PHONY: help uv install run test test-py lint fmt migrate bench attack fuzz conformance clean

help: ## List the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-8s %s\n", $$1, $$2}'

uv:
	@command -v uv >/dev/null 2>&1 || python3 -m uv --version >/dev/null 2>&1 \
		|| python3 -m pip install --quiet uv \
		|| python3 -m pip install --quiet --user --break-system-packages uv

install: uv ## Install uv if missing, then the locked dependencies and every extra into .venv
	@$(UV) sync --frozen --all-extras --quiet

run: install ## Migrate and serve on http://127.0.0.1:8000 (embedded PostgreSQL if DATABASE_URL is unset)
	$(VENV_BIN)/portico db upgrade
	$(VENV_BIN)/portico serve

test: install ## Run the whole test suite
	$(VENV_BIN)/pytest $(PYTEST_ARGS)

test-py: uv ## Unit, contract and plain-install tests on another Python: make test-py PY=.../python3.13
	@UV_PYTHON_DOWNLOADS=never UV_PROJECT_ENVIRONMENT=$(PY_VENV) \
		$(UV) sync --frozen --all-extras --quiet --python $(PY)
	$(PY_VENV)/bin/python --version
	$(PY_VENV)/bin/pytest tests/unit tests/contract tests/e2e/test_install.py $(PYTEST_ARGS)

lint: install ## ruff, mypy --strict, the import-linter contracts, deptry, hadolint, compose
	$(VENV_BIN)/ruff check .
	$(VENV_BIN)/ruff format --check .
	$(VENV_BIN)/mypy
	$(VENV_BIN)/lint-imports
	$(VENV_BIN)/deptry .
	$(VENV_BIN)/hadolint deploy/Dockerfile
	@command -v docker-compose >/dev/null 2>&1 \
		|| { echo "docker-compose is missing: install Debian's docker-compose package"; exit 1; }
	docker-compose --env-file deploy/.env.example -f deploy/compose.yaml config --quiet

fmt: install ## Format and autofix
	$(VENV_BIN)/ruff format .
	$(VENV_BIN)/ruff check --fix .

migrate: install ## Apply migrations to the configured (or embedded) database
	$(VENV_BIN)/portico db upgrade

BENCHES = asgi_servers login content files audit metrics relay event_latency ws_fanout cli

bench: install ## Run every benchmark in bench/, print their ratios; fail if a target missed
	@missed=""; for name in $(BENCHES); do \
		echo "== bench/$$name.py"; \
		$(VENV_BIN)/python bench/$$name.py || missed="$$missed $$name"; \
	done; \
	if [ -n "$$missed" ]; then echo "bench: missed a target or failed:$$missed"; exit 1; fi

attack: install ## Run the denial-of-service attacks of bench/attacks.py; fail if a target missed
	$(VENV_BIN)/python bench/attacks.py $(ATTACK_ARGS)

fuzz: install ## Fuzz the API contract at length (bench/fuzz.py: 50,000 cases signed in, 30,000 without); fail on any failure
	$(VENV_BIN)/python bench/fuzz.py $(FUZZ_ARGS)

conformance: ## Run the official RealWorld API suite (tools/realworld/) against a running server (make run first)
	tools/conformance.sh $(CONFORMANCE_URL) $(CONFORMANCE_FOLDERS)

clean: ## Remove local state: the virtualenv, caches and the embedded database
	rm -rf .venv .venv-* .data .mypy_cache .ruff_cache .pytest_cache
