"""`make mutation`: the score of mutmut's last run and the mutants accepted as equivalent."""
