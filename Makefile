# Praxis — the two commands that matter: `make run` and `make test`.
# Both take a brand-new machine (Python 3.11+, Node/npm, PostgreSQL optional) to the goal.
SHELL := /bin/bash
UV_VERSION := 0.9.30
UV := python3 -m uv
VENV := .venv
BIN := $(VENV)/bin
PG_TEST_URL ?= postgresql+psycopg://postgres@127.0.0.1:5432/test
PYTEST_ARGS ?=

.PHONY: help install assets chromium run serve migrate demo test test-sqlite test-pg test-slow lint bench bench-care clean

help:
	@echo "make run        set up, migrate, load demo data, serve on http://127.0.0.1:8000"
	@echo "make test       set up, lint, run the tests on SQLite and (when reachable) PostgreSQL"
	@echo "make test-slow  browser, load and fuzz tests (Chromium via Playwright)"
	@echo "make bench      benchmarks (writes bench/results.json)"
	@echo "make bench-care the care month-end engine over 20,000 enrolments (PostgreSQL)"

$(BIN)/python: pyproject.toml uv.lock
	@python3 -m uv --version >/dev/null 2>&1 || python3 -m pip install --quiet "uv==$(UV_VERSION)"
	$(UV) sync --frozen
	@touch $(BIN)/python

install: $(BIN)/python

node_modules/.package-lock.json: package.json package-lock.json
	npm ci --ignore-scripts --no-audit --no-fund
	@touch node_modules/.package-lock.json

assets: node_modules/.package-lock.json

# Debian's Chromium for the browser tests (never a downloaded browser build).
chromium:
	@test -x /usr/bin/chromium || (apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium)

migrate: install
	$(BIN)/praxis db upgrade

demo: migrate
	$(BIN)/praxis demo

# Plain http on 127.0.0.1: cookies without the Secure flag unless you say otherwise. Development
# checks every Core statement for its org_id condition (platform.scoping), as the tests do.
run: install assets demo
	PRAXIS_COOKIE_SECURE=$${PRAXIS_COOKIE_SECURE:-false} PRAXIS_CHECK_TENANT_SCOPE=$${PRAXIS_CHECK_TENANT_SCOPE:-true} \
		$(BIN)/praxis serve

serve: install assets
	PRAXIS_COOKIE_SECURE=$${PRAXIS_COOKIE_SECURE:-false} PRAXIS_CHECK_TENANT_SCOPE=$${PRAXIS_CHECK_TENANT_SCOPE:-true} \
		$(BIN)/praxis serve

lint: install
	$(BIN)/ruff check src tests bench
	$(BIN)/lint-imports

test-sqlite: install assets
	env -u PRAXIS_TEST_DATABASE_URL $(BIN)/pytest -m "not slow" -q $(PYTEST_ARGS)

# PostgreSQL: every test that touches the database runs again on a fresh database.
test-pg: install assets
	@if [ -n "$$PRAXIS_TEST_DATABASE_URL" ] || $(BIN)/python -c "import socket; socket.create_connection(('127.0.0.1', 5432), 1)" 2>/dev/null; then \
		PRAXIS_TEST_DATABASE_URL=$${PRAXIS_TEST_DATABASE_URL:-$(PG_TEST_URL)} $(BIN)/pytest -m "not slow" -q \
			tests/integration tests/http tests/tenancy $(PYTEST_ARGS); \
	else echo "PostgreSQL not reachable on 127.0.0.1:5432: PostgreSQL tests skipped"; fi

test: lint test-sqlite test-pg

test-slow: install assets chromium
	$(BIN)/pytest -m slow -q $(PYTEST_ARGS)

bench: install
	@echo "PRAXIS_BENCH_DATABASE_URL=postgresql+psycopg://... for PostgreSQL; SCALE=small or medium"
	PRAXIS_BENCH_DATABASE_URL=$${PRAXIS_BENCH_DATABASE_URL-$(PG_TEST_URL)} $(BIN)/python bench/run.py --scale $${SCALE:-medium}

# The care month-end engine over 20,000 enrolments x 30 entries (about 4 minutes, most of it
# generating the data): kept out of `bench`, which stays near its time budget.
bench-care: install
	PRAXIS_BENCH_DATABASE_URL=$${PRAXIS_BENCH_DATABASE_URL-$(PG_TEST_URL)} $(BIN)/python bench/bench_care.py

clean:
	rm -rf $(VENV) node_modules .pytest_cache .ruff_cache
