"""Tests of survey.analysis."""
