"""Tests of survey.runs."""
