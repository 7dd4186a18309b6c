# Two entry points: `make demo` (set up + main job) and `make test` (set up + tests).
# Setting up is cached: the venv is rebuilt only when pyproject.toml changes.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
RUN ?= runs/demo

.PHONY: setup demo test test-all bench
setup: $(VENV)/.installed

# A stale dynalysis.egg-info in the source tree would hide the `dynalysis.commands` entry points.
$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q torch==2.13.0
	rm -rf dynalysis.egg-info
	$(PY) -m pip install -q -e ".[dev]"
	touch $@

demo: setup
	$(PY) cli.py demo --out $(RUN)

test: setup
	$(PY) -m pytest -q

test-all: setup
	$(PY) -m pytest -q -m ""

bench: setup
	$(PY) benchmarks/run.py
