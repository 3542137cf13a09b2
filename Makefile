# The two commands: `make run` serves the app with demo data; `make test` runs the whole suite.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# pytest-xdist workers; the suite is parallel-safe on SQLite and PostgreSQL.
TEST_WORKERS ?= 2

.PHONY: run test bench bench-postgres mutation lint format clean

$(VENV)/.run-installed: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(VENV)/.test-installed: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $@ $(VENV)/.run-installed

# `custody serve` does not start without an audit key. Unless one is set, `make run` (a demo)
# makes its own once, outside instance/ (the database's folder): README, "The audit trail".
DEMO_AUDIT_KEY := $(HOME)/.config/custody/demo-audit.key
run: export CUSTODY_AUDIT_KEY_FILE := $(if $(CUSTODY_AUDIT_KEY)$(CUSTODY_AUDIT_KEY_FILE),$(CUSTODY_AUDIT_KEY_FILE),$(DEMO_AUDIT_KEY))
run: $(VENV)/.run-installed
	test -n "$$CUSTODY_AUDIT_KEY" || $(BIN)/custody audit keygen --if-missing "$$CUSTODY_AUDIT_KEY_FILE"
	$(BIN)/custody db upgrade
	$(BIN)/custody demo --if-empty
	$(BIN)/custody serve

test: $(VENV)/.test-installed
	$(BIN)/ruff check .
	$(BIN)/lint-imports --no-cache
	$(BIN)/pytest -n $(TEST_WORKERS) $(PYTEST_ARGS)

# The HTTP benchmark drives the served tracker and its floors with wrk (Debian's package) at
# both history sizes, so that it can say whether each figure stays flat between them.
HTTP_EVENTS ?= 1000,1000000
BENCH_POSTGRES ?= postgresql+psycopg://postgres@127.0.0.1:5432
WRK := command -v wrk >/dev/null || apt-get install -y -qq wrk \
	|| { apt-get update -qq && apt-get install -y -qq wrk; }

# Benchmarks measure the DESIGN.md budgets; they are not part of `make test`.
bench: $(VENV)/.test-installed
	$(BIN)/python -m tests.benchmarks.audit_verify --entries $(or $(ENTRIES),1000000)
	$(BIN)/python -m tests.benchmarks.scan_latency --events $(or $(EVENTS),1000000)
	$(BIN)/python -m tests.benchmarks.release_signing --bags 100 --lots 20
	$(BIN)/python -m tests.benchmarks.label_printing --bags 100 --lots 6
	$(BIN)/python -m tests.benchmarks.bedside_latency --events $(or $(EVENTS),1000000)
	$(BIN)/python -m tests.benchmarks.lookback_latency --scale $(or $(SCALE),100)
	$(BIN)/python -m tests.benchmarks.demo_scale --scale $(or $(SCALE),100)
	$(BIN)/python -m tests.benchmarks.cold_start
	$(WRK)
	$(BIN)/python -m tests.benchmarks.http_load --events $(HTTP_EVENTS)

# The HTTP benchmark's table on PostgreSQL: BENCH_POSTGRES names a server on which it makes,
# and afterwards drops, a database of its own for each history size.
bench-postgres: $(VENV)/.test-installed
	$(WRK)
	$(BIN)/python -m tests.benchmarks.http_load --events $(HTTP_EVENTS) --postgres $(BENCH_POSTGRES)

# Mutation testing of custody/domain/ against tests/unit (not part of `make test`): every module
# must kill at least 90 % of its mutants. A fresh run each time, so no result comes from a cache.
MUTATION_WORKERS ?= 2
mutation: $(VENV)/.test-installed
	rm -rf mutants
	mkdir mutants
	$(BIN)/mutmut run --max-children $(MUTATION_WORKERS) > mutants/run.log 2>&1 \
		|| { tail -n 40 mutants/run.log; exit 1; }
	$(BIN)/python tests/mutation/report.py

lint: $(VENV)/.test-installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(VENV)/.test-installed
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache mutants
