"""Tests of survey.toplist."""
