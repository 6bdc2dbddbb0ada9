"""Tests of survey.sim."""
