# superstorm — the two commands of the README: `make demo` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP_LOCAL := $(if $(wildcard /opt/wheels),--find-links /opt/wheels,)
DATA ?= $(abspath ../shared/data)
# pytest worker processes (pytest-xdist; each test file stays in one worker): the 2 cores of CI
TEST_WORKERS ?= 2

export PREFECT_SERVER_ANALYTICS_ENABLED := false
export DO_NOT_TRACK := 1
export PYTHONWARNINGS := ignore:X does not have valid feature names
export SUPERSTORM_DATA := $(DATA)

.PHONY: setup test demo lint format bench clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q $(PIP_LOCAL) -e '.[dev]'
	touch $@

setup: $(VENV)/.installed

lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: setup
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

test: setup
	$(VENV)/bin/ruff check .
	$(PY) -m pytest -q -p no:cacheprovider -n $(TEST_WORKERS) --dist loadfile --durations=15 \
		--timeout=900 $(PYTEST_ARGS)

demo: setup
	$(VENV)/bin/superstorm demo --data $(DATA)

bench: setup
	for b in benchmarks/bench_*.py; do $(PY) $$b || exit 1; done

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache *.egg-info
