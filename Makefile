# Two entry points on a fresh machine: `make run` (the demo) and `make test`.
PYTHON ?= python3.11
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
# Size of the demo world; CI runs the demo on a smaller one.
DEMO_DOMAINS ?= 20000

.PHONY: test lint typecheck pytest run bench fuzz clean

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	@touch $(STAMP)

lint: $(STAMP)
	$(VENV)/bin/ruff check survey tests benchmarks

typecheck: $(STAMP)
	$(VENV)/bin/mypy

pytest: $(STAMP)
	$(VENV)/bin/pytest -q

test: lint typecheck pytest

run: $(STAMP)
	$(PY) -m survey.demo --domains $(DEMO_DOMAINS) --out datasets/demo

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache
