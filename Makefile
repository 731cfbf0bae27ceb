# Two commands set everything up on a fresh machine: `make demo` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

PIXIE_HOME ?= $(CURDIR)/data
override PIXIE_HOME := $(abspath $(PIXIE_HOME))
export PIXIE_HOME
DAGSTER_HOME ?= $(PIXIE_HOME)/dagster_home
export DAGSTER_HOME
DAGSTER_PORT ?= 3000
MLFLOW_PORT ?= 5000

SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: venv chromium demo test ui lint format bench-walks clean

$(BIN)/.installed: pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $@

venv: $(BIN)/.installed

## demo: set up, run the pipeline end to end on the demo world, print its results
demo: venv
	$(BIN)/python -m pixie_assets.demo

## chromium: the headless browser of the UI test (Debian package), installed when missing
chromium:
	@command -v chromium >/dev/null 2>&1 || { $(SUDO) apt-get update -qq && \
	    $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; }

## test: set up, run the whole test suite (real dagster dev, mlflow server and Chromium included)
test: venv chromium
	$(BIN)/python -m pytest -q

## ui: the Dagster UI and the MLflow UI on 127.0.0.1 (Ctrl-C stops both)
ui: venv
	@$(BIN)/python -c "from pixie_assets.core.settings import ensure_dagster_home; ensure_dagster_home()"
	@mkdir -p $(PIXIE_HOME)/mlartifacts
	@echo "Dagster UI: http://127.0.0.1:$(DAGSTER_PORT)   (DAGSTER_HOME=$(DAGSTER_HOME))"
	@echo "MLflow UI:  http://127.0.0.1:$(MLFLOW_PORT)   (sqlite:///$(PIXIE_HOME)/mlflow.db)"
	@trap 'kill 0' INT TERM EXIT; \
	$(BIN)/mlflow ui --host 127.0.0.1 --port $(MLFLOW_PORT) \
	    --backend-store-uri sqlite:///$(PIXIE_HOME)/mlflow.db \
	    --default-artifact-root $(PIXIE_HOME)/mlartifacts & \
	$(BIN)/dagster dev -w workspace.yaml -h 127.0.0.1 -p $(DAGSTER_PORT)

lint: venv
	$(BIN)/ruff check . && $(BIN)/ruff format --check .

format: venv
	$(BIN)/ruff format . && $(BIN)/ruff check --fix .

bench-walks: venv
	$(BIN)/python benchmarks/walks.py

clean:
	rm -rf $(PIXIE_HOME) .tmp_dagster_home_*
