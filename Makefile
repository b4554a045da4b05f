# Two commands on a fresh clone: `make run` and `make test`. Each sets up .venv if needed.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
export DO_NOT_TRACK := 1
export PREFECT_SERVER_ANALYTICS_ENABLED := false
export MLFLOW_DISABLE_TELEMETRY := true
export DVC_NO_ANALYTICS := 1
export TF_CPP_MIN_LOG_LEVEL := 3
# Make the venv's tools (aefx, dvc) visible to the commands DVC runs.
export PATH := $(CURDIR)/$(BIN):$(PATH)

.PHONY: setup run test test-fast lint repro ui dvc-yaml bench clean

setup: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "aefx needs Python 3.11+"'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -qq --upgrade pip
	$(BIN)/pip install -qq -c constraints.txt -e '.[dev]'
	@touch $@

run: $(STAMP)  ## run the pipeline on the embedded default data set
	$(BIN)/aefx run

test: $(STAMP)  ## lint, then every test (the slow end-to-end ones too)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/aefx dvc-yaml --check
	$(BIN)/pytest

test-fast: $(STAMP)
	$(BIN)/pytest -m "not slow"

lint: $(STAMP)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

repro: $(STAMP)  ## the same stages through DVC
	$(BIN)/dvc repro

ui: $(STAMP)  ## MLflow UI on 127.0.0.1:5000
	$(BIN)/aefx ui

dvc-yaml: $(STAMP)
	$(BIN)/aefx dvc-yaml

bench: $(STAMP)
	$(BIN)/python benchmarks/bench_training.py

clean:
	rm -rf data/processed data/scaled data/encoded models metrics plots reports
