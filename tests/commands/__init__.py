"""Tests of survey.commands."""
