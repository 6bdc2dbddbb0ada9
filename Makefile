# Two entry points on a fresh machine: `make run` (the demo) and `make test`.
PYTHON ?= python3.11
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
# Size of the demo world; CI runs the demo on a smaller one.
DEMO_DOMAINS ?= 20000
# Size of the benchmark world (`make bench`); the smoke test and quick runs use small ones.
BENCH_DOMAINS ?= 200000
# NSD and dnsperf come from Debian packages; root installs directly, others through sudo.
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

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

bench: $(STAMP)
	@command -v nsd >/dev/null && command -v dnsperf >/dev/null || { \
	  $(SUDO) apt-get update && \
	  $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y nsd dnsperf; }
	BENCH_DOMAINS=$(BENCH_DOMAINS) $(PY) -m benchmarks.run

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache
