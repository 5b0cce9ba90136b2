# rfmkit: `make run` executes the workshop offline, `make test` runs the suite.
# The virtual environment is created on first use from requirements*.txt.

PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
RUNTIME_STAMP := $(VENV)/.runtime-installed
DEV_STAMP     := $(VENV)/.dev-installed
ARGS ?=

.PHONY: run test lint lab bench bench-quick clean help

help:
	@echo "make run    execute every numbered notebook offline into runs/<timestamp>/ (ARGS='-p scale=0.1')"
	@echo "make test   run the whole test suite (lint, unit, SQL, AWS request shapes, notebooks)"
	@echo "make lab    open JupyterLab on notebooks/"
	@echo "make bench  run every benchmark at full size into docs/PERFORMANCE.md (about an hour)"
	@echo "make bench-quick  the same benchmarks at small sizes (a few minutes) into runs/bench/"
	@echo "make clean  remove runs/ and caches (keeps .venv)"

# pip shows what it collects and installs (one line each), so the first run is not ten silent minutes.
PIP_INSTALL := $(PY) -m pip install --disable-pip-version-check --progress-bar off

$(RUNTIME_STAMP): requirements.txt pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@echo "installing the kit's requirements into $(VENV) (first run only: a few minutes):"
	@grep -Eo '^[A-Za-z0-9_.\[\]-]+' requirements.txt | tr '\n' ' '; echo
	$(PIP_INSTALL) -r requirements.txt
	$(PIP_INSTALL) --no-deps -e .
	@touch $@

$(DEV_STAMP): $(RUNTIME_STAMP) requirements-dev.txt
	@echo "installing the test tools into $(VENV):"
	@grep -Eo '^[A-Za-z0-9_.\[\]-]+' requirements-dev.txt | tr '\n' ' '; echo
	$(PIP_INSTALL) -r requirements-dev.txt
	@touch $@

run: $(RUNTIME_STAMP)
	$(PY) -m rfmkit run $(ARGS)

test: $(DEV_STAMP)
	$(VENV)/bin/ruff check .
	$(PY) -m pytest $(ARGS)

lint: $(DEV_STAMP)
	$(VENV)/bin/ruff check .

# JupyterLab refuses to start as root (most data-science containers) without --allow-root.
lab: $(RUNTIME_STAMP)
	$(VENV)/bin/jupyter lab --notebook-dir=notebooks --ip=127.0.0.1 $(if $(filter 0,$(shell id -u)),--allow-root,) $(ARGS)

bench: $(DEV_STAMP)
	$(PY) -m bench $(ARGS)

bench-quick: $(DEV_STAMP)
	$(PY) -m bench --quick $(ARGS)

clean:
	rm -rf runs .pytest_cache .ruff_cache
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
