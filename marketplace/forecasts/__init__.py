"""Forecasts: when a project will finish, what it will cost, and a warning when its money runs out first."""
