# Two commands set everything up on a fresh machine: `make demo` and `make test`.
# `make help` lists the targets. The environment is .venv, synced from uv.lock by uv; uv comes
# from PATH or, when missing, from PyPI into .venv-tools/ (plain pip is the last resort).
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
TOOLS ?= .venv-tools
UV_VERSION ?= 0.13.9
# uv on PATH, else the copy `make venv` installs into $(TOOLS)
UV ?= $(or $(shell command -v uv 2>/dev/null),$(TOOLS)/bin/uv)
PYTEST_ARGS ?=
# pytest-xdist workers of `make test` (a module, and all of interfaces/, stay on one worker)
TEST_WORKERS ?= 2

PIXIE_HOME ?= $(CURDIR)/data
override PIXIE_HOME := $(abspath $(PIXIE_HOME))
export PIXIE_HOME
DAGSTER_HOME ?= $(PIXIE_HOME)/dagster_home
export DAGSTER_HOME
DAGSTER_PORT ?= 3000
MLFLOW_PORT ?= 5000

SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: help venv lock chromium demo test test-fast ui serve screenshots lint format hooks bench-walks clean

## help: list the targets
help:
	@sed -n 's/^## //p' $(MAKEFILE_LIST)

# uv itself: the one on PATH, else uv==$(UV_VERSION) from PyPI into $(TOOLS)/ (removed on failure).
ENSURE_UV = command -v '$(UV)' >/dev/null || [ '$(UV)' != '$(TOOLS)/bin/uv' ] || { \
	    echo "uv is not on PATH: installing uv==$(UV_VERSION) from PyPI into $(TOOLS)/"; \
	    { $(PYTHON) -m venv $(TOOLS) && \
	      $(TOOLS)/bin/python -m pip install --quiet 'uv==$(UV_VERSION)'; } || rm -rf $(TOOLS); }

# uv sync is exact: .venv gets the packages of uv.lock (dev extra, project editable) and no others.
# --locked refuses a uv.lock that no longer matches pyproject.toml (run `make lock`).
# --compile-bytecode (pip's default) halves the start-up of every test run and subprocess.
$(BIN)/.installed: pyproject.toml uv.lock
	@set -e; $(ENSURE_UV); \
	if command -v '$(UV)' >/dev/null; then \
	    UV_PROJECT_ENVIRONMENT='$(VENV)' UV_PYTHON_DOWNLOADS=never \
	        '$(UV)' sync --locked --extra dev --compile-bytecode --python '$(PYTHON)'; \
	else \
	    echo "uv could not be had: installing with pip from pyproject.toml's ranges, not uv.lock"; \
	    test -x $(BIN)/python || $(PYTHON) -m venv $(VENV); \
	    $(BIN)/python -m pip install --quiet --upgrade pip; \
	    $(BIN)/python -m pip install --quiet -e '.[dev]'; \
	fi
	@touch $@

## venv: create .venv and install uv.lock into it (dev extra, project editable); a no-op when done
venv: $(BIN)/.installed

## lock: re-resolve uv.lock after a change to pyproject.toml's dependencies (commit both)
lock:
	@$(ENSURE_UV)
	'$(UV)' lock

## demo: set up, run the pipeline end to end on the demo world, print its results
demo: venv
	@$(BIN)/python -m pixie_assets.demo

## chromium: the headless browser of the UI test (Debian package), installed when missing
chromium:
	@command -v chromium >/dev/null 2>&1 || { $(SUDO) apt-get update -qq && \
	    $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; }

## test: set up, run the whole test suite (real dagster dev, mlflow server and Chromium included)
test: venv chromium
	$(BIN)/python -m pytest -q -n $(TEST_WORKERS) --dist loadscope $(PYTEST_ARGS)

## test-fast: the inner loop, under a minute: every test but the slow and the interface ones
test-fast: venv
	$(BIN)/python -m pytest -q -n $(TEST_WORKERS) --dist loadscope -m "not slow and not interfaces" $(PYTEST_ARGS)

## ui: the Dagster UI and the MLflow UI on 127.0.0.1 (Ctrl-C stops both)
# dagster dev runs in $(DAGSTER_HOME), whose dagster.yaml (made from the repository's) is the one
# it uses; from the repository root it would warn that the root's copy "will not be used".
# MLflow for one person: one uvicorn worker (default 4), no job runner (its huey consumers serve
# GenAI jobs this project never submits) and no access-log line per request.
ui: venv
	@$(BIN)/python -c "from pixie_assets.core.settings import ensure_dagster_home; ensure_dagster_home()"
	@mkdir -p $(PIXIE_HOME)/mlartifacts
	@echo "Dagster UI: http://127.0.0.1:$(DAGSTER_PORT)   (DAGSTER_HOME=$(DAGSTER_HOME))"
	@echo "MLflow UI:  http://127.0.0.1:$(MLFLOW_PORT)   (sqlite:///$(PIXIE_HOME)/mlflow.db)"
	@trap 'kill 0' INT TERM EXIT; \
	MLFLOW_SERVER_ENABLE_JOB_EXECUTION=false \
	$(BIN)/mlflow ui --host 127.0.0.1 --port $(MLFLOW_PORT) --workers 1 \
	    --uvicorn-opts '--no-access-log' \
	    --backend-store-uri sqlite:///$(PIXIE_HOME)/mlflow.db \
	    --default-artifact-root $(PIXIE_HOME)/mlartifacts & \
	cd '$(DAGSTER_HOME)' && \
	PIXIE_DAGSTER_URL=http://127.0.0.1:$(DAGSTER_PORT) PIXIE_MLFLOW_URL=http://127.0.0.1:$(MLFLOW_PORT) \
	'$(abspath $(BIN))/dagster' dev -w '$(CURDIR)/workspace.yaml' -h 127.0.0.1 -p $(DAGSTER_PORT)

## serve: the online Pixie service on http://127.0.0.1:$PIXIE_SERVE_PORT (8000), over PIXIE_HOME's newest graph
PIXIE_SERVE_PORT ?= 8000
serve: venv
	$(BIN)/python -m pixie_assets.online --port $(PIXIE_SERVE_PORT)

## screenshots: PNGs of the pages a daily user opens in both UIs, into docs/screenshots/ (after make demo)
# SCREENSHOTS_DIR moves them; the UIs of a running `make ui` on DAGSTER_PORT/MLFLOW_PORT are used,
# else make ui is started for the duration.
SCREENSHOTS_DIR ?= docs/screenshots
screenshots: venv chromium
	DAGSTER_PORT=$(DAGSTER_PORT) MLFLOW_PORT=$(MLFLOW_PORT) \
	$(BIN)/python -m pixie_assets_tests.interfaces.screenshots --out '$(SCREENSHOTS_DIR)'

## lint: ruff check and ruff format --check (what CI and the pre-commit hook run)
lint: venv
	$(BIN)/ruff check . && $(BIN)/ruff format --check .
	@$(BIN)/python -c "$$CHECK_HOOK_PIN"

## format: ruff format, then ruff check --fix
format: venv
	$(BIN)/ruff format . && $(BIN)/ruff check --fix .

## hooks: install the git hooks of .pre-commit-config.yaml (ruff on commit, test-fast on push)
hooks: venv
	$(BIN)/pre-commit install

## bench-walks: the random-walk throughput benchmark
bench-walks: venv
	$(BIN)/python benchmarks/walks.py

## clean: remove the data (PIXIE_HOME, ./data by default) and leftover Dagster homes; keeps .venv
clean:
	rm -rf $(PIXIE_HOME) .tmp_dagster_home_*

# The pre-commit hook installs its own ruff from PyPI: its pin must be uv.lock's ruff.
define CHECK_HOOK_PIN
import re, sys, tomllib
locked = {p["name"]: p["version"] for p in tomllib.load(open("uv.lock", "rb"))["package"]}
pins = re.findall(r"ruff==([^\s'\"\]]+)", open(".pre-commit-config.yaml").read())
if not pins or any(pin != locked["ruff"] for pin in pins):
    sys.exit(f".pre-commit-config.yaml pins ruff {pins}, uv.lock has {locked['ruff']}: align them")
endef
export CHECK_HOOK_PIN
