# Two entry points for a fresh machine: `make demo` (the main job) and `make test` (lint, types and tests).
# Each creates the virtual environment and installs what it needs by itself.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
# the second lane: imitation's own pinned stack (SB3 2.2.1, gymnasium 0.29.1), where a smoke subset runs
IMITATION_VENV ?= .venv-imitation
IPY := $(IMITATION_VENV)/bin/python
# torch first, pinned: this exact version is the CPU wheel; an unpinned torch can pull a multi-GB CUDA build
TORCH_SPEC ?= torch==2.13.0

.PHONY: install demo test lint pytest pytest-imitation-stack clean

$(VENV)/.installed: pyproject.toml Makefile
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet "$(TORCH_SPEC)"
	$(PY) -m pip install --quiet -e ".[test]"
	# imitation 1.0.1 pins SB3 2.2.1; on the SB3 2.9 stack it installs without its pins (its data types, rollout
	# and serialize work there), so the tests convert real imitation objects
	$(PY) -m pip install --quiet --no-deps imitation==1.0.1 seals==0.2.1
	touch $@

$(IMITATION_VENV)/.installed: pyproject.toml Makefile
	$(PYTHON) -m venv $(IMITATION_VENV)
	$(IPY) -m pip install --quiet --upgrade pip
	$(IPY) -m pip install --quiet "$(TORCH_SPEC)"
	# `pip install imitation==1.0.1 sb3-lsiq` as its users do: the resolver picks SB3 2.2.1 and gymnasium 0.29.1
	$(IPY) -m pip install --quiet imitation==1.0.1 -e ".[hf]" pytest pytest-xdist
	touch $@

install: $(VENV)/.installed

demo: install
	$(PY) examples/pendulum_quickstart.py

lint: install
	$(PY) -m ruff check sb3_lsiq tests scripts examples zoo_hook
	$(PY) -m ruff format --check sb3_lsiq tests scripts examples zoo_hook
	$(PY) -m mypy

pytest: install
	$(PY) -m pytest -n 2 --dist worksteal -m "not extra_seeds" --durations=15 -rA

pytest-imitation-stack: $(IMITATION_VENV)/.installed
	$(IPY) -c "import stable_baselines3 as sb3, gymnasium as gym; print('imitation stack: SB3', sb3.__version__, 'gymnasium', gym.__version__)"
	$(IPY) -m pytest -n 2 -m "stack_smoke and not slow" --durations=5 -ra -p no:cacheprovider

test: lint pytest pytest-imitation-stack

clean:
	rm -rf $(VENV) $(IMITATION_VENV) .pytest_cache .mypy_cache .ruff_cache
