# Tollgate — the one entry point. `make help` lists every target.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help
.ONESHELL:

PYTHON ?= python3
UV_HOME := .tollgate/uv
UV := $(shell command -v uv 2>/dev/null || echo $(UV_HOME)/bin/uv)
RUN := $(UV) run --frozen
export UV_PROJECT_ENVIRONMENT := .venv
# Trust the system certificate store (corporate proxies and CI machines add their CA there).
export UV_SYSTEM_CERTS ?= 1

.PHONY: help install run test test-fast lint fmt typecheck sqlc verify migrate bench seed-large reliability bench-peers docs docs-serve rotate-keys screenshots clean

help: ## List every target with what it does
	@awk 'BEGIN {FS = ":.*?## "} /^[a-zA-Z_-]+:.*?## / {printf "  \033[36m%-13s\033[0m %s\n", $$1, $$2}' $(MAKEFILE_LIST)

$(UV_HOME)/bin/uv:
	@echo "uv not found: installing it from PyPI into $(UV_HOME)"
	$(PYTHON) -m venv $(UV_HOME)
	$(UV_HOME)/bin/pip install --quiet --disable-pip-version-check uv

.venv/.installed: uv.lock pyproject.toml services/*/pyproject.toml | $(UV)
	$(UV) sync --frozen --all-groups
	@touch $@

install: .venv/.installed ## Install everything from the lock file into .venv (bootstraps uv from PyPI) and the dashboard's npm assets
	@$(RUN) python dashboard/install.py

run: install ## Start the whole stack (embedded Postgres/Redis unless TOLLGATE_DATABASE_URL/REDIS_URL are set)
	$(RUN) tollgate dev

test: install ## Lint, type check, verify generated code, build the docs, then run the whole test suite
	$(MAKE) --no-print-directory lint typecheck verify docs
	$(RUN) pytest

test-fast: install ## Run the test suite only (no lint/typecheck)
	$(RUN) pytest -x -q

lint: install ## ruff check + format check + import contracts
	$(RUN) ruff check .
	$(RUN) ruff format --check .
	$(RUN) lint-imports

fmt: install ## Format and auto-fix
	$(RUN) ruff format .
	$(RUN) ruff check --fix .

typecheck: install ## mypy --strict over our packages
	$(RUN) mypy

sqlc: install ## Regenerate typed query code from db/ (sqlc + our process plugin) and record new migrations
	$(RUN) python db/verify.py --generate

verify: install ## Fail if generated code is stale or a landed migration was edited
	$(RUN) python db/verify.py --check

migrate: install ## Apply migrations to TOLLGATE_DATABASE_URL
	$(RUN) tollgate migrate

bench: install ## Benchmarks: router vs direct upstream (and peers when installed), reports on the seed-large data set (skipped when absent), the job API end to end; writes tests/bench/results/
	$(RUN) python -m tests.bench
	$(RUN) python -m tests.bench.reports
	$(RUN) python -m tests.bench.api

seed-large: install ## Generate the large data set (1M jobs, 10M calls, 1,000 teams) in database tollgate_large; ARGS="--fresh --jobs N ..." (resumable)
	$(RUN) tollgate seed-large $(ARGS)

reliability: install ## Fault tests, a soak of mixed job traffic (DURATION s, default 600) and long schema fuzzing; writes docs/reliability.md
	$(RUN) python -m tests.reliability --duration $(or $(DURATION),600)

screenshots: install ## Refresh the dashboard screenshots in docs/img/dashboard (runs the browser test with Chromium)
	TOLLGATE_UPDATE_SCREENSHOTS=1 $(RUN) pytest tests/browser -q -p no:cacheprovider

bench-peers: install ## Install the LiteLLM proxy into its own venv (once), then run the bench side by side
	[ -x tests/bench/.peers-venv/bin/litellm ] || { $(PYTHON) -m venv tests/bench/.peers-venv && \
	  tests/bench/.peers-venv/bin/pip install --quiet 'litellm[proxy]'; }
	$(RUN) python -m tests.bench --with-peers

rotate-keys: install ## Re-encrypt stored secrets under the new primary key ids (new key first in TOLLGATE_*_ENCRYPTION_KEYS, restart, then run this)
	$(RUN) tollgate keys rotate-provider-keys
	$(RUN) tollgate keys rotate-api-keys

docs: install ## Build the documentation site (strict)
	NO_MKDOCS_2_WARNING=1 $(RUN) mkdocs build --strict --quiet

docs-serve: install ## Serve the documentation with live reload
	$(RUN) mkdocs serve

clean: ## Remove caches, build output and local state (.tollgate/: embedded data, uv)
	rm -rf .pytest_cache .mypy_cache .ruff_cache site dist build
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
	rm -rf .tollgate
