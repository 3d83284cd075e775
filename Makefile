# Portico: the two commands a newcomer needs are `make run` and `make test`.
SHELL := /bin/bash
.DEFAULT_GOAL := help

UV := $(shell command -v uv 2>/dev/null || echo "python3 -m uv")
VENV_BIN := .venv/bin
PYTEST_ARGS ?=

.PHONY: help install run test lint fmt migrate bench clean

help: ## List the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-8s %s\n", $$1, $$2}'

install: ## Install uv if missing, then the locked dependencies into .venv
	@command -v uv >/dev/null 2>&1 || python3 -m uv --version >/dev/null 2>&1 \
		|| python3 -m pip install --quiet uv \
		|| python3 -m pip install --quiet --user --break-system-packages uv
	@$(UV) sync --frozen --quiet

run: install ## Migrate and serve on http://127.0.0.1:8000 (embedded PostgreSQL if DATABASE_URL is unset)
	$(VENV_BIN)/portico db upgrade
	$(VENV_BIN)/portico serve

test: install ## Run the whole test suite
	$(VENV_BIN)/pytest $(PYTEST_ARGS)

lint: install ## ruff, mypy --strict and the import-linter contracts
	$(VENV_BIN)/ruff check .
	$(VENV_BIN)/ruff format --check .
	$(VENV_BIN)/mypy
	$(VENV_BIN)/lint-imports

fmt: install ## Format and autofix
	$(VENV_BIN)/ruff format .
	$(VENV_BIN)/ruff check --fix .

migrate: install ## Apply migrations to the configured (or embedded) database
	$(VENV_BIN)/portico db upgrade

BENCHES = asgi_servers login content relay event_latency ws_fanout

bench: install ## Run every benchmark in bench/, print their ratios; fail if a target missed
	@missed=""; for name in $(BENCHES); do \
		echo "== bench/$$name.py"; \
		$(VENV_BIN)/python bench/$$name.py || missed="$$missed $$name"; \
	done; \
	if [ -n "$$missed" ]; then echo "bench: missed a target or failed:$$missed"; exit 1; fi

clean: ## Remove local state: the virtualenv, caches and the embedded database
	rm -rf .venv .data .mypy_cache .ruff_cache .pytest_cache
