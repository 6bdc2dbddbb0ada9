"""Fuzz harnesses (atheris, `make fuzz`) and their corpus, replayed by tests/test_fuzz_corpus.py."""
