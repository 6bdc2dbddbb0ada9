"""Tests of survey.core."""
