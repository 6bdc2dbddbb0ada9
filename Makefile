# Two entry points on a fresh machine: `make run` (the demo) and `make test`.
PYTHON ?= python3.11
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
# Size of the demo world; CI runs the demo on a smaller one.
DEMO_DOMAINS ?= 20000
# Size of the benchmark world (`make bench`); the smoke test and quick runs use small ones.
BENCH_DOMAINS ?= 200000
DEMO_OUT     ?= datasets/demo

# `make fuzz`: atheris harnesses of tests/fuzz/ (the `fuzz` extra), FUZZ_SECONDS per target.
FUZZ_SECONDS ?= 60
FUZZ_TARGETS ?= sts_record tlsrpt_record policy dns_response
# New inputs and crash files go here; only those adding coverage are merged into the corpus.
FUZZ_WORK    ?= build/fuzz
# A corpus dir past this many files is minimised to edge coverage (seed-*/crash-* files stay).
FUZZ_CORPUS_MAX ?= 200

# `make mutation`: mutmut's mutants of the pure core and of the DNS client's response and retry
# rules (names as mutmut spells them; the MTA-STS question plan and its AAAA rule live in
# survey/scan/funnel.py since d16e3cd), run against the unit tests listed in [tool.mutmut].
MUTANTS ?= survey.*policy.x* survey.*classify.x* survey.core.facts.x* survey.*mistakes.x* \
  survey.probes.dns*.x_check_response_* survey.probes.dns*.x_interpret_* \
  survey.probes.dns*.x_is_retried_* survey.probes.dns.x_attempt_outcome_* \
  survey.probes.dns.x_merge_addresses_* survey.scan.funnel.x_domain_questions_* \
  survey.scan.funnel.x_lookup_domain_*

.PHONY: test test-fast lint typecheck pytest run bench fuzz mutation clean system-deps

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	@touch $(STAMP)

lint: $(STAMP)
	$(VENV)/bin/ruff check survey tests benchmarks

typecheck: $(STAMP)
	$(VENV)/bin/mypy

# Real servers the tests use (NSD serves the exported zone in test_zonefile.py, nginx the
# exported policy hosts in test_bench_nginx_live.py); their Debian services are not started.
# Chromium opens the HTML report headless in test_report_browser.py.
system-deps:
	@sh .ci/apt-install nsd nginx unbound ldnsutils:ldns-signzone chromium

pytest: $(STAMP) system-deps
	$(VENV)/bin/pytest -q

test: lint typecheck pytest

# The developer's loop: the tests not marked slow (~1 minute; `make test` runs everything).
# Bytecode is written even where PYTHONDONTWRITEBYTECODE is set: without it pytest rewrites the
# asserts of every test module again on each run (~10 s of CPU).
test-fast: $(STAMP)
	PYTHONDONTWRITEBYTECODE= $(VENV)/bin/pytest -q -m "not slow"

run: $(STAMP)
	$(PY) -m survey.demo --domains $(DEMO_DOMAINS) --out $(DEMO_OUT)

# nginx serves the policy hosts of the scan and HTTPS rows: the benchmark runs its own on 127.x
# only (.ci/apt-install keeps Debian's services from starting when it installs the packages).
# dnsdist delays and drops queries in front of NSD for the latency rows (benchmarks/latency.py).
bench: $(STAMP)
	@sh .ci/apt-install nsd dnsperf nginx dnsdist
	@test -x "$$(dirname $(PY))/py-spy" || $(PY) -m pip install -q -e '.[bench]'
	$(PY) -m benchmarks.sim_dns
	BENCH_DOMAINS=$(BENCH_DOMAINS) $(PY) -m benchmarks.run

fuzz: $(STAMP)
	@$(PY) -c 'import atheris' 2>/dev/null || $(PY) -m pip install -q -e '.[fuzz]'
	@failed=""; for t in $(FUZZ_TARGETS); do \
	  corpus=tests/fuzz/corpus/$$t; work=$(FUZZ_WORK)/$$t; \
	  rm -rf $$work/new $$work/min; mkdir -p $$work/new $$work/min $$work/crashes; \
	  echo "== fuzz $$t for $(FUZZ_SECONDS) s (corpus $$corpus)"; \
	  $(PY) -m tests.fuzz.run $$t -max_total_time=$(FUZZ_SECONDS) -timeout=10 -rss_limit_mb=2048 \
	    -print_final_stats=1 -artifact_prefix=$$work/crashes/ $$work/new $$corpus \
	    >$$work/log 2>&1 || failed="$$failed $$t"; \
	  grep -E '^#[0-9]+ +DONE|stat::number_of_executed_units' $$work/log | tail -n 2; \
	  $(PY) -m tests.fuzz.run $$t -merge=1 $$corpus $$work/new >>$$work/log 2>&1; \
	  if [ $$(ls $$corpus | wc -l) -gt $(FUZZ_CORPUS_MAX) ]; then \
	    cp $$corpus/seed-* $$corpus/crash-* $$work/min/ 2>/dev/null; \
	    $(PY) -m tests.fuzz.run $$t -merge=1 -use_counters=0 $$work/min $$corpus >>$$work/log 2>&1 && \
	    rm -f $$corpus/* && cp $$work/min/* $$corpus/; \
	  fi; \
	  echo "   corpus: $$(ls $$corpus | wc -l) files"; \
	done; \
	if [ -n "$$failed" ]; then \
	  echo "fuzz: crashes in:$$failed (inputs under $(FUZZ_WORK)/<target>/crashes/, logs in $(FUZZ_WORK)/<target>/log)"; \
	  for t in $$failed; do tail -n 30 $(FUZZ_WORK)/$$t/log; ls -l $(FUZZ_WORK)/$$t/crashes/; done; \
	  exit 1; \
	fi

# Not part of `make test` (minutes of CPU): at low priority, the derandomised Hypothesis profile;
# fails when a mutant survives that tests/mutation/equivalent.tsv does not explain.
mutation: $(STAMP)
	@$(PY) -c 'import mutmut' 2>/dev/null || $(PY) -m pip install -q -e '.[mutation]'
	@mkdir -p build
	HYPOTHESIS_PROFILE=ci nice -n 10 $(VENV)/bin/mutmut run $(foreach m,$(MUTANTS),'$(m)') \
	  >build/mutation.log 2>&1 || { tail -n 40 build/mutation.log; exit 1; }
	$(PY) -m tests.mutation.score $(foreach m,$(MUTANTS),'$(m)')

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache mutants
