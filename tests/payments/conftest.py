"""Payments fixtures (the fake Stripe and its client) live in tests/conftest.py: tests/faults/ uses them too."""
