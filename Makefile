# The README's two set-up commands are `make demo` (the main job) and `make test`.
PY ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# Peers with conflicting requirements get their own environments (test/bench only):
# Brian2 2.9 needs numpy < 2; Lava (lava-nc) needs Python 3.10.
BRIAN2_VENV ?= .venv-brian2
LAVA_VENV ?= .venv-lava
# A Python 3.10 for Lava: on PATH, or one that pyenv has installed but not activated.
PY310 ?= $(firstword $(wildcard $(shell pyenv root 2>/dev/null)/versions/3.10*/bin/python3.10) $(shell command -v python3.10))
PEER_ENV := BRIAN2_PYTHON=$(abspath $(BRIAN2_VENV))/bin/python SPIKESTREAM_LAVA_PYTHON=$(abspath $(LAVA_VENV))/bin/python

.PHONY: setup peers demo test lint bench clean-cache

$(BIN)/python:
	$(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

setup: $(BIN)/python
	$(BIN)/python -m pip install -q -e ".[test]"

# Optional peer environments; a peer that cannot be installed here makes its tests skip.
peers:
	@test -x $(BRIAN2_VENV)/bin/python || ($(PY) -m venv $(BRIAN2_VENV) && \
	  $(BRIAN2_VENV)/bin/python -m pip install -q "numpy<2" "brian2==2.9.0" cython && \
	  $(BRIAN2_VENV)/bin/python -c "import brian2") || \
	  (rm -rf $(BRIAN2_VENV); echo "peers: Brian2 environment unavailable; Brian2 comparisons will skip")
	@test -x $(LAVA_VENV)/bin/python || (test -n "$(PY310)" && $(PY310) -m venv $(LAVA_VENV) && \
	  $(LAVA_VENV)/bin/python -m pip install -q lava-nc && $(LAVA_VENV)/bin/python -c "import lava.proc.lif") || \
	  (rm -rf $(LAVA_VENV); echo "peers: Lava environment unavailable (needs python3.10); Loihi bit-accuracy check will skip")

demo: setup
	$(BIN)/spikestream demo
	$(BIN)/spikestream kws train --default --if-missing

test: setup
	$(PEER_ENV) $(BIN)/python -m pytest -q -n 2 tests

lint: setup
	$(BIN)/ruff check .

bench: setup peers
	$(BIN)/python -m pip install -q -e ".[bench]"
	$(PEER_ENV) $(BIN)/spikestream bench all --quick

# Numba's cache does not see edits to functions that a cached function calls.
clean-cache:
	find . -name '*.nbi' -delete -o -name '*.nbc' -delete
