"""Tests of survey.scan."""
