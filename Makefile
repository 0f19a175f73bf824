# The two commands: `make run` starts the whole platform, `make test` runs the whole test suite.
# Both create and fill the virtual environment (.venv) themselves from requirements.lock.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat requirements.lock pyproject.toml | cksum | cut -d' ' -f1)
PYTEST_ARGS ?=

.PHONY: run test venv lint typecheck migrate seed bench bench-quick clean-data help

help:
	@echo "make run          start the whole platform (embedded PostgreSQL/Redis unless DATABASE_URL/REDIS_URL)"
	@echo "make test         run the whole test suite"
	@echo "make lint         ruff + mypy --strict"
	@echo "make migrate      alembic upgrade heads"
	@echo "make bench        benchmarks with side-by-side baselines (bench/)"

$(STAMP): requirements.lock pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11+ is required")'
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.lock
	$(BIN)/python -m pip install --quiet --no-deps -e .
	@rm -f $(VENV)/.installed-*
	@touch $(STAMP)

venv: $(STAMP)

run: venv
	$(BIN)/gunma run

test: venv
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: venv
	$(BIN)/ruff check .
	$(BIN)/mypy shared services migrations gunma
	$(BIN)/lint-imports

typecheck: lint

migrate: venv
	$(BIN)/gunma migrate

seed: venv
	$(BIN)/gunma seed

bench: venv
	$(BIN)/python -m bench.run

bench-quick: venv
	$(BIN)/python -m bench.run --quick

clean-data:
	rm -rf .data
