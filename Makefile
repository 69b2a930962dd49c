# Two commands set everything up on a fresh machine (Python 3.11+ and make):
#   make demo   — the whole pipeline against the sandbox, into the embedded SQLite warehouse
#   make test   — the whole test suite (PostgreSQL tests run when a server answers)
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
# dbt lives in an environment of its own: dbt-core pins pathspec < 0.13, which the project's
# linters cannot use; Dagster only runs its executable (SYNCHUB_DBT_EXECUTABLE).
DBT_VENV  ?= .venv-dbt
DBT_STAMP := $(DBT_VENV)/.installed

export DAGSTER_HOME ?= $(CURDIR)/data/dagster_home

.PHONY: demo live test lint typecheck check ui sandbox bench clean install

$(STAMP): pyproject.toml $(DBT_STAMP)
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

$(DBT_STAMP): dbt-requirements.txt
	$(PYTHON) -m venv $(DBT_VENV)
	$(DBT_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(DBT_VENV)/bin/python -m pip install --quiet -r dbt-requirements.txt
	@touch $(DBT_STAMP)

install: $(STAMP)

demo: $(STAMP)
	@mkdir -p $(DAGSTER_HOME)
	$(BIN)/synchub demo

# Orders arriving by webhook, in the UI: sandbox sales → receiver → sensors (after `make demo`).
live: $(STAMP)
	@mkdir -p $(DAGSTER_HOME)
	$(BIN)/synchub live

test: $(STAMP)
	$(BIN)/python -m pytest -n 2 --dist loadfile -q

lint: $(STAMP)
	$(BIN)/ruff check synchub_pipelines synchub_pipelines_tests benchmarks
	$(BIN)/ruff format --check synchub_pipelines synchub_pipelines_tests benchmarks

typecheck: $(STAMP)
	$(BIN)/mypy

check: lint typecheck test

# The Dagster UI on the demo's instance (runs, assets, partitions, checks of `make demo`).
ui: $(STAMP)
	@$(BIN)/python -c "from synchub_pipelines.dagster_home import prepare_dagster_home as p; p()"
	$(BIN)/dagster dev -w workspace.yaml

sandbox: $(STAMP)
	$(BIN)/synchub sandbox serve --port 8788

bench: $(STAMP)
	$(BIN)/python benchmarks/backfill.py

clean:
	rm -rf $(VENV) $(DBT_VENV) synchub_pipelines_tests/.artifacts data/warehouse.sqlite* data/dagster_home .pytest_cache .mypy_cache .ruff_cache
