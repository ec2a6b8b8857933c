# Two entry points for a fresh machine: `make demo` (the main job) and `make test` (lint, types and tests).
# Each creates the virtual environment and installs what it needs by itself.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
# torch first, pinned: this exact version is the CPU wheel; an unpinned torch can pull a multi-GB CUDA build
TORCH_SPEC ?= torch==2.13.0

.PHONY: install demo test lint pytest clean

$(VENV)/.installed: pyproject.toml Makefile
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet "$(TORCH_SPEC)"
	$(PY) -m pip install --quiet -e ".[test]"
	# imitation 1.0.1 pins SB3 2.2.1; on the SB3 2.9 stack it installs without its pins (its data types, rollout
	# and serialize work there), so the tests convert real imitation objects
	$(PY) -m pip install --quiet --no-deps imitation==1.0.1
	touch $@

install: $(VENV)/.installed

demo: install
	$(PY) examples/pendulum_quickstart.py

lint: install
	$(PY) -m ruff check sb3_lsiq tests scripts examples
	$(PY) -m ruff format --check sb3_lsiq tests scripts examples
	$(PY) -m mypy

pytest: install
	$(PY) -m pytest -n 2 --durations=15 -ra

test: lint pytest

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
