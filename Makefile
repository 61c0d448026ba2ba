# EV Infra Report Lab — every target builds/uses the local virtual environment .venv
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# data/ and outputs/ live in REPORT_LIB_HOME (else the working folder): the clone, also for the
# kernels of `make lab` and nbval, which start in notebooks/
export REPORT_LIB_HOME ?= $(CURDIR)

.PHONY: help setup demo test test-fast lint bench bench-peers lab clean sample

help:  ## list targets
	@grep -E '^[a-z-]+:.*##' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-8s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[test,peers]"
	$(BIN)/python -m ipykernel install --sys-prefix --name report-lib --display-name "Python (report-lib)"
	touch $(STAMP)

setup: $(STAMP)  ## create .venv, install the project with test tools, register the kernel

demo: setup  ## the main job, offline: sample data -> pipeline (emulator) -> outputs/site/index.html
	$(BIN)/report-lib demo

test: setup  ## lint + the whole test suite
	$(BIN)/ruff check report_lib tests benchmarks scripts
	$(BIN)/lint-imports
	$(BIN)/mypy
	$(BIN)/python -m pytest
	$(BIN)/python -m pytest --nbval-lax -p no:cacheprovider notebooks/

test-fast: setup  ## lint + the tests not marked slow (no notebooks, no end-to-end runs)
	$(BIN)/ruff check report_lib tests benchmarks scripts
	$(BIN)/lint-imports
	$(BIN)/mypy
	$(BIN)/python -m pytest -m "not slow"

bench: setup  ## full benchmark run (see benchmarks/README.md)
	$(BIN)/python benchmarks/run_all.py

bench-peers: setup  ## ours beside LangChain, aioboto3, LlamaIndex, the Anthropic SDK (~10 min)
	$(BIN)/python benchmarks/run_all.py --only peers --out outputs/benchmark-peers

lab: setup  ## open JupyterLab on the project's environment and kernel
	$(BIN)/jupyter lab --notebook-dir=notebooks

clean:  ## remove the venv, generated data and outputs
	rm -rf $(VENV) data outputs .pytest_cache .ruff_cache
