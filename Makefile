# Two commands a new user needs: `make demo` and `make test`. Both create the virtualenv.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: demo test bench spec clean

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev,spacy]'
	$(BIN)/pip install --quiet -e clients/python
	touch $@

$(BIN)/.bench-installed: $(BIN)/.installed
	$(BIN)/pip install --quiet -e '.[dev,spacy,bench]'
	touch $@

demo: $(BIN)/.installed
	$(BIN)/python -m marketplace.demo $(DEMO_ARGS)

# The PostgreSQL suite, then the embedded lane: the marked subset on the SQLite file `make demo` uses.
test: $(BIN)/.installed
	$(BIN)/python -m pytest $(PYTEST_ARGS)
	MARKETPLACE_TEST_DB=sqlite $(BIN)/python -m pytest -m "embedded and not postgres"

bench: $(BIN)/.bench-installed
	$(BIN)/python benchmarks/inference.py
	$(BIN)/python benchmarks/import_tasks.py
	$(BIN)/python benchmarks/transfers.py
	$(BIN)/python benchmarks/lease_throughput.py
	$(BIN)/python benchmarks/recompute.py
	$(BIN)/python benchmarks/redundancy_replay.py

spec: $(BIN)/.installed
	FLASK_APP=wsgi $(BIN)/flask openapi write --format=json api_spec/openapi.json

clean:
	rm -rf $(VENV) instance/*.db
