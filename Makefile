# Two commands: `make run` opens the dashboard, `make test` passes the tests; both set everything up.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip install --quiet --disable-pip-version-check
# uv installs the same pinned requirements as pip in seconds instead of minutes (it downloads and
# unpacks in parallel); pinned here, from PyPI into the venv. Where it cannot be installed, pip does
# the work. $(call INSTALL,args): `pip install args` through whichever is there.
UV_PIN := uv==0.13.9
UV := $(VENV)/bin/uv
# Bytecode is written as modules are first imported, not compiled ahead by the installer: uv's
# --compile-bytecode compiled all 17,700 modules of the venv (~70 s of CPU, most of a clean clone's
# install), while the suite imports about a third of them (~15 s to compile once). Python writes .pyc
# files only when PYTHONDONTWRITEBYTECODE is unset, so it is unset for everything make runs: else
# every process the tests start would compile MLflow from source again.
unexport PYTHONDONTWRITEBYTECODE
INSTALL = if [ -x $(UV) ]; then $(UV) pip install --quiet --python $(PY) $(1); \
	else $(PIP) $(1) 2>&1 | grep -v "^WARNING: Location" || true; fi
HOST ?= 127.0.0.1
PORT ?= 8501
MLFLOW_PORT ?= 5000
# Test processes (pytest-xdist): each starts its own test stack; the suite waits on servers as much
# as it computes, so two workers cut its time by a third even on two cores. Three on two cores:
# with two, CI's run used 147% of its two cores (~1,216 s of CPU in 827 s): each worker's processes
# wait about a quarter of the time (a browser page settling, a server starting, a poll), and a
# third worker's tests fill those gaps, for ~20 s of CPU (its own stack). `--dist loadgroup`
# keeps each xdist_group on one worker: the PostgreSQL tests (one cluster, not one per worker), the
# trained demo and the browser tests on it, the tests that stop or kill servers (one pair), and
# each other module's tests (its module-scoped fixtures built once, not on every worker: the
# tests' summed setup time in a full run went from 617 to 414 s).
TEST_WORKERS ?= 3

.PHONY: run test install install-dev server seed lint bench clean-local

$(VENV)/.runtime: requirements.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) $(UV_PIN) >/dev/null 2>&1 || echo "$(UV_PIN) could not be installed: installing with pip"
	test -x $(UV) || $(PIP) --upgrade pip 2>&1 | grep -v "^WARNING: Location" || true
	$(call INSTALL,-r requirements.txt)
	$(PY) -c "import mlflow, streamlit, plotly, pandas" 
	touch $@

$(VENV)/.dev: $(VENV)/.runtime requirements-dev.txt
	$(call INSTALL,-r requirements-dev.txt)
	$(PY) -c "import pytest, xdist, moto, hypothesis, playwright, mypy"
	touch $@

install: $(VENV)/.runtime
install-dev: $(VENV)/.dev

## make run: the dashboard on the embedded local store (seeded with demo runs when empty),
## or on MLFLOW_TRACKING_URI when set.
run: install
	@if [ -z "$$MLFLOW_TRACKING_URI" ]; then $(PY) -m registry seed-demo --if-empty; fi
	$(PY) -m streamlit run app.py --server.address $(HOST) --server.port $(PORT)

seed: install
	$(PY) -m registry seed-demo

## make test: the whole suite against a real mlflow server, moto's S3 server and Chromium.
## mypy (half a minute of one core from a clean clone's empty cache) runs beside pytest, whose
## workers spend much of their start waiting on the servers they launch; a type error still fails.
test: install-dev
	$(PY) -m ruff check .
	$(PY) -m mypy & mypy=$$!; \
	$(PY) -m pytest -q -n $(TEST_WORKERS) --dist loadgroup; tests=$$?; \
	wait $$mypy || exit 1; exit $$tests

## make lint: ruff, and mypy strict on registry/ (configured in pyproject.toml).
lint: install-dev
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(PY) -m mypy

## make server: a local mlflow server on SQLite; artifacts on S3 when MLFLOW_S3_ENDPOINT_URL and
## REGISTRY_S3_BUCKET are set, else under .local/mlartifacts.
server: install
	mkdir -p .local
	$(PY) -m mlflow server --host $(HOST) --port $(MLFLOW_PORT) --workers 1 \
	  --backend-store-uri sqlite:///$(CURDIR)/.local/server.db \
	  --artifacts-destination $${REGISTRY_S3_BUCKET:+s3://$$REGISTRY_S3_BUCKET/mlflow}$${REGISTRY_S3_BUCKET:-$(CURDIR)/.local/mlartifacts}

bench: install-dev
	$(PY) -m bench.run

clean-local:
	rm -rf .local
