"""The demo, outside the app it drives: `python -m marketplace.demo` (make demo) runs __main__.py.

__main__.py: a simulated crowd labels a project through the HTTP API (test client) on a fresh SQLite
file; all_types.py: one small project of every label type, exports read back; scenarios.py: the
simulated tasks and annotators those use (also the end-to-end tests' fixtures). Nothing in the app
imports this package.
"""
