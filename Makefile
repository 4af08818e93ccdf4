# respondr — `make help` lists the targets.
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 5000
export HOST PORT

.DEFAULT_GOAL := help
.PHONY: help install run test test-sqlite test-postgres lint audit clean bench

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-14s %s\n", $$1, $$2}'

$(VENV)/.installed: pyproject.toml
	@test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	@touch $@

install: $(VENV)/.installed ## Create .venv and install respondr with its test and lint tools

run: $(VENV)/.installed ## Migrate, load the demo once, serve on HOST:PORT (default 127.0.0.1:5000) with a worker
	$(BIN)/respondr init-db
	$(BIN)/respondr demo --if-empty
	$(BIN)/respondr serve

test: $(VENV)/.installed ## Run the whole suite on SQLite, then on PostgreSQL if RESPONDR_TEST_POSTGRES_URL is set
	@bash .ci/ensure-browser
	@set -e; ran="SQLite"; \
	$(PY) -m pytest -p no:cacheprovider --db sqlite; \
	if [ -n "$$RESPONDR_TEST_POSTGRES_URL" ]; then \
	  $(PY) -m pytest -p no:cacheprovider --db postgres; ran="$$ran and PostgreSQL"; \
	elif [ "$$RESPONDR_REQUIRE_POSTGRES" = 1 ]; then \
	  echo "RESPONDR_TEST_POSTGRES_URL is not set but PostgreSQL is required"; exit 1; \
	else \
	  echo "*** PostgreSQL run skipped: set RESPONDR_TEST_POSTGRES_URL to run the suite on it too ***"; \
	fi; \
	echo "make test: the suite passed on $$ran."

lint: $(VENV)/.installed ## ruff (lint and format check), mypy on the domain modules, bandit on respondr/
	$(BIN)/ruff check respondr tests migrations bench
	$(BIN)/ruff format --check respondr tests migrations bench
	$(BIN)/mypy
	$(BIN)/bandit -q -c pyproject.toml -r respondr

audit: $(VENV)/.installed ## pip-audit of the installed packages; --strict fails when one cannot be checked
	$(BIN)/pip-audit --strict --progress-spinner off

MESSAGES ?= 100000
BACKENDS ?= sqlite,postgres
BENCH_POSTGRES_URL ?= postgresql://postgres@127.0.0.1:5432/test
bench: $(VENV)/.installed ## Benchmarks (not part of test): MESSAGES=1000000 for the full run; writes bench/results.json
	@bash bench/ensure-wrk
	$(PY) -m bench.run --messages $(MESSAGES) --backends $(BACKENDS) --postgres-url $(BENCH_POSTGRES_URL) $(if $(ONLY),--only $(ONLY)) $(if $(RUNS),--runs $(RUNS))

clean: ## Remove the venv, caches and test artefacts (keeps instance/, your data)
	rm -rf $(VENV) .pytest_cache .ruff_cache .mypy_cache .hypothesis test-artifacts
