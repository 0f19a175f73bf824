# The two commands: `make run` starts the whole platform, `make test` runs the whole test suite.
# Both create and fill the virtual environment (.venv) themselves from requirements/dev.lock
# (hash-checked; the production image installs requirements/runtime.lock only).
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat requirements/dev.lock pyproject.toml | cksum | cut -d' ' -f1)
PYTEST_ARGS ?=

.PHONY: lock run test test-fast test-random coverage format venv lint typecheck migrate seed bench bench-quick clean-data help

help:
	@echo "make run          start the whole platform (embedded PostgreSQL/Redis unless DATABASE_URL/REDIS_URL)"
	@echo "make test         run the whole test suite"
	@echo "make test-fast    the suite without the slow system and browser tests (a few minutes)"
	@echo "make test-random  the fast tests twice, in two random orders (finds order dependence)"
	@echo "make coverage     the whole suite with line and branch coverage (htmlcov/index.html)"
	@echo "make format       ruff format + ruff check --fix"
	@echo "make lint         ruff check, ruff format --check, mypy --strict, import contracts"
	@echo "make migrate      alembic upgrade heads"
	@echo "make bench        benchmarks with side-by-side baselines (bench/)"

$(STAMP): requirements/dev.lock pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11+ is required")'
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet --require-hashes -r requirements/dev.lock
	$(BIN)/python -m pip install --quiet --no-deps -e .
	@rm -f $(VENV)/.installed-*
	@touch $(STAMP)

venv: $(STAMP)

run: venv
	$(BIN)/gunma run

test: venv
	$(BIN)/python -m pytest $(PYTEST_ARGS)

FAST := -m "not system and not browser"

test-fast: venv
	$(BIN)/python -m pytest $(FAST) $(PYTEST_ARGS)

# Two runs, each in its own random order (the seed is printed; `-p randomly --randomly-seed=N`
# reproduces one). A test that passes in file order but fails here depends on another's leftovers.
test-random: venv
	$(BIN)/python -m pytest $(FAST) -p randomly -q $(PYTEST_ARGS)
	$(BIN)/python -m pytest $(FAST) -p randomly -q $(PYTEST_ARGS)

coverage: venv
	$(BIN)/python -m pytest --cov=shared --cov=services --cov=gunma --cov-branch \
		--cov-report=term:skip-covered --cov-report=html $(PYTEST_ARGS)

# Regenerate both locks from pyproject.toml, keeping every pin that still fits (pip-compile reuses
# the versions already in the output file; add --upgrade-package NAME to move one package).
LOCK := $(BIN)/pip-compile --quiet --generate-hashes --strip-extras --allow-unsafe --no-emit-index-url --no-emit-find-links
lock: venv
	$(LOCK) -o requirements/runtime.lock pyproject.toml
	$(LOCK) --extra dev --extra embedded -o requirements/dev.lock pyproject.toml

format: venv
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
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
