# The two set-up commands of the README are `make demo` and `make test`.
PY ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: setup demo test lint bench

$(BIN)/python:
	$(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

setup: $(BIN)/python
	$(BIN)/python -m pip install -q -e ".[test]"

demo: setup
	$(BIN)/spikestream demo

test: setup
	$(BIN)/python -m pytest -q -n 2 tests

lint: setup
	$(BIN)/ruff check .

bench: setup
	$(BIN)/python -m pip install -q -e ".[bench]"
	$(BIN)/spikestream bench all
