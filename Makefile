# Defense Chain — developer entry points.
#
#   make demo       install, seed a fictitious county, serve on http://127.0.0.1:8000
#   make install    the virtual environment from requirements.lock (+ the package, editable)
#   make lint       ruff, ruff format --check, mypy --strict, import-linter
#   make test       lint, then pytest on SQLite and, side by side, on PostgreSQL when
#                   DEFCHAIN_TEST_DATABASE_URL is set
#   make test-deps  Debian's Chromium and ChromeDriver for the browser tests
#   make bench      intake benchmark (not a test): the app under 16 clients vs its ceiling,
#                   SQLite and PostgreSQL (BENCH_ARGS="--backends sqlite --runs 1" to narrow)
#   make translations  extract the public pages' strings, update every catalog, compile
#                   (to add a language, see docs/translations.md)

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# Reinstall only when the lock or the project metadata change.
STAMP := $(VENV)/.installed

DEMO_ENV := DEFCHAIN_DEMO=1 DEFCHAIN_DATABASE_URL=sqlite:///var/demo.db

.PHONY: help install demo lint format test test-deps bench translations

help:
	@sed -n 's/^#   //p' Makefile

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(STAMP): requirements.lock pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements.lock
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps -e .
	@touch $@

install: $(STAMP)

demo: install
	$(DEMO_ENV) $(BIN)/defchain init
	$(DEMO_ENV) $(BIN)/defchain demo --fresh
	$(DEMO_ENV) $(BIN)/defchain serve

test-deps:
	@if [ -x /usr/bin/chromium ]; then \
	  echo "Chromium present: $$(/usr/bin/chromium --version 2>/dev/null || echo /usr/bin/chromium)"; \
	else \
	  sudo=""; [ "$$(id -u)" -eq 0 ] || sudo="sudo"; \
	  $$sudo apt-get update -qq; \
	  $$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver; \
	fi

lint: install
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/mypy
	$(BIN)/lint-imports

format: install
	$(BIN)/ruff check --fix src tests bench
	$(BIN)/ruff format src tests bench

# With PostgreSQL configured, the SQLite and PostgreSQL runs go side by side (one core
# each), each into its own log under var/, printed when both are done.
test: install test-deps lint
	@if [ -n "$${DEFCHAIN_TEST_DATABASE_URL:-}" ]; then \
	  mkdir -p var; \
	  echo "DEFCHAIN_TEST_DB=sqlite $(BIN)/pytest > var/test-sqlite.log (and, side by side)"; \
	  echo "DEFCHAIN_TEST_DB=postgres $(BIN)/pytest > var/test-postgres.log"; \
	  DEFCHAIN_TEST_DB=sqlite $(BIN)/pytest > var/test-sqlite.log 2>&1 & lite=$$!; \
	  DEFCHAIN_TEST_DB=postgres $(BIN)/pytest > var/test-postgres.log 2>&1 & pg=$$!; \
	  lite_rc=0; pg_rc=0; wait $$lite || lite_rc=$$?; wait $$pg || pg_rc=$$?; \
	  echo "=== SQLite (exit $$lite_rc) ==="; cat var/test-sqlite.log; \
	  echo "=== PostgreSQL (exit $$pg_rc) ==="; cat var/test-postgres.log; \
	  [ $$lite_rc -eq 0 ] && [ $$pg_rc -eq 0 ]; \
	else \
	  DEFCHAIN_TEST_DB=sqlite $(BIN)/pytest; \
	  echo "DEFCHAIN_TEST_DATABASE_URL is not set: skipped the PostgreSQL run."; \
	fi

TRANSLATIONS := src/defchain/web/translations

translations: install
	$(BIN)/pybabel extract -F babel.cfg -k N_ -k _ -k translate:2 -k AttachmentRefused \
	  --no-location --sort-output --project "Defense Chain" \
	  --copyright-holder "Defense Chain contributors" -o $(TRANSLATIONS)/messages.pot .
	$(BIN)/pybabel update -i $(TRANSLATIONS)/messages.pot -d $(TRANSLATIONS) --no-wrap
	$(BIN)/pybabel compile -d $(TRANSLATIONS) --statistics

BENCH_ARGS ?=

bench: install
	$(BIN)/python bench/intake.py $(BENCH_ARGS)
