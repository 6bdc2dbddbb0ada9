"""Tests of survey.dataset."""
