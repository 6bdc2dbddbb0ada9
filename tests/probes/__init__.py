"""Tests of survey.probes."""
