"""Ask/tell experiment planners (BoTorch multi-objective, Sobol and random baselines).
Imports nothing else of voltlab."""
