# The README's two commands: `make run` and `make test`. Everything else supports them.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
BIN := $(VENV)/bin
FERRETDB := .tools/bin/ferretdb
DEMO_LISTINGS ?= 500

export DIRECTORY_PORT ?= 8080
export DIRECTORY_KEYS_DIR ?= $(CURDIR)/.keys

ENGINE ?= ../shared/engines/documentdb
# The engine stage (issue 23): the tests whose behaviour depends on the engine's semantics
# (conditional writes, index use, background index builds), run on a server with a planner.
ENGINE_TESTS ?= tests/test_query_plans.py tests/test_versioned_writes.py tests/test_changes.py \
  tests/test_delta_cost.py tests/test_feeds.py tests/test_applier.py tests/test_upgrade.py \
  tests/test_rate_leases.py tests/test_export_lease.py tests/test_r10_state_machine.py

.PHONY: run test test-engine lint format schema ferretdb venv clean help bench explain

help:  ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/'

$(VENV)/.installed: pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	@touch $@

venv: $(VENV)/.installed  ## create the virtualenv with the service and dev tools

$(FERRETDB): scripts/build-ferretdb.sh
	scripts/build-ferretdb.sh

ferretdb: $(FERRETDB)  ## build the local FerretDB once (into .tools/, git-ignored)

run: venv ferretdb  ## set everything up (dev keys in .keys/), migrate, seed demo data if empty, serve on :8080
	DIRECTORY_ENV=$${DIRECTORY_ENV:-dev} $(BIN)/directory-svc keys init
	DIRECTORY_ENV=$${DIRECTORY_ENV:-dev} $(PY) scripts/localdb.py -- bash -c '\
	  $(BIN)/directory-svc migrate && \
	  $(BIN)/directory-svc seed --count $(DEMO_LISTINGS) --if-empty && \
	  exec $(BIN)/directory-svc serve'

test: venv ferretdb  ## run the whole suite against a throw-away local FerretDB
	$(PY) scripts/localdb.py --temp -- $(BIN)/pytest $(PYTEST_ARGS)

test-engine: venv ferretdb  ## the engine stage on $(ENGINE) (DocumentDB, root): plans, storage contract, ledger, upgrades, R10
	@if [ ! -x $(ENGINE)/engine.sh ]; then echo "no $(ENGINE): no engine stage"; exit 0; fi; \
	uri=$$($(ENGINE)/engine.sh start) || exit 1; \
	MONGODB_URI=$$uri R10_EXAMPLES=$${R10_EXAMPLES:-40} $(BIN)/pytest $(ENGINE_TESTS) $(PYTEST_ARGS); rc=$$?; \
	$(ENGINE)/engine.sh stop; exit $$rc

explain: venv ferretdb  ## the server's plan for every hot query (docs/indexes.md); MONGODB_URI=… to ask another server
	if [ -n "$$MONGODB_URI" ]; then $(PY) bench/explain.py; else $(PY) scripts/localdb.py --temp -- $(PY) bench/explain.py; fi

bench: venv ferretdb  ## benchmarks against a throw-away FerretDB (BENCH_LISTINGS=200000): bench/results.json, docs/performance.md
	$(PY) scripts/localdb.py --temp -- $(PY) bench/run.py

lint: venv  ## ruff (lint + format check) and mypy
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

format: venv  ## apply ruff's fixes and formatting
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

schema: venv  ## rewrite graphql/schema.graphql from the code
	$(BIN)/directory-svc schema --output graphql/schema.graphql

clean:  ## remove the virtualenv, local data and built tools
	rm -rf $(VENV) .data .tools .pytest_cache .mypy_cache .ruff_cache  # .keys/ is kept: it unlocks .data/
