"""The pure core: names, exclusions, policy parsers, mistakes, verdicts, observations, classify.

No network, no dataframes: stdlib, idna and publicsuffixlist only (``tests/test_layers.py``)."""
