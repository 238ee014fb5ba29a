# Two commands on a fresh machine:  `make demo`  and  `make test`  (see README.md).
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
export DDE_BACKEND := pytorch
export PYTHONHASHSEED := 0
LINT_PATHS := sciml tests examples benchmarks

.PHONY: install demo test test-all lint clean

# torch is pinned to the CPU build that lies on this machine's disk; an unpinned torch would pull a
# multi-GB CUDA build. Users with a GPU install their own torch first (README: "Installing").
$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet torch==2.13.0
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@

install: $(BIN)/.installed

demo: install
	$(BIN)/sciml generate poisson2d --out data/poisson2d.h5
	$(BIN)/sciml train examples/quickstart.yaml --overwrite
	$(BIN)/sciml evaluate runs/quickstart

lint: install
	$(BIN)/ruff check $(LINT_PATHS)
	$(BIN)/ruff format --check $(LINT_PATHS)
	$(BIN)/lint-imports

test: lint
	$(BIN)/pytest -n 2 -q

test-all: lint
	$(BIN)/pytest -n 2 -q -m ''

clean:
	rm -rf $(VENV) runs data .pytest_cache
