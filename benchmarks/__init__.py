"""Benchmarks: `make bench`. They measure and print; they are not tests."""
