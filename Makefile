# Simpul: the two commands of the README's quick start are `make run` and `make test`.
PYTHON ?= python3
PORT   ?= 5000
# test processes (pytest-xdist): one per core; `make test TEST_WORKERS=0` runs in one process
TEST_WORKERS ?= auto
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
# the modeler's sources: `npm run build` bundles them into web/static/vendor/process-admin/
BUNDLE_SRC := $(wildcard web/static/process_admin/src/*)

.PHONY: run test setup bench clean

$(STAMP): setup.cfg setup.py pyproject.toml package.json $(BUNDLE_SRC)
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	@# setuptools notes on every editable install that folders named like a package may shadow it;
	@# ours are mapped under simpul.* on purpose (setup.py), so that one notice is silenced, no other.
	PYTHONWARNINGS="ignore:Editable installation" $(BIN)/pip install --quiet -e '.[test]'
	@if [ -f package-lock.json ]; then npm ci --no-audit --no-fund --loglevel=error; fi
	npm run build
	touch $(STAMP)

# .mo files are built, not committed; compiling is quick, so it runs on every setup.
setup: $(STAMP)
	$(BIN)/pybabel compile -d translations

## Set up and run one office node: SQLite in instance/, demo data, processes and plugins.
run: setup
	$(BIN)/simpul init --demo
	$(BIN)/simpul run --port $(PORT)

## Set up and run every test (SQLite and PostgreSQL, browser tests in Chromium).
test: setup
	bash scripts/test-deps
	$(BIN)/python -m pytest -n $(TEST_WORKERS)

## Print the benchmark figures (engine vs raw SpiffWorkflow, inbox latency, outbox drain).
bench: setup
	$(BIN)/python bench/engine.py
	$(BIN)/python bench/inbox.py
	$(BIN)/python bench/coordination.py

clean:
	rm -rf $(VENV) node_modules instance .pytest_cache
