"""Reports: the scenario in words, one trial traced look by look, markdown tables."""
