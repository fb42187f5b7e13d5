# The two commands of the README's Quick start: `make run` and `make test`; `make lint` before a commit.
VENV ?= .venv
PYTHON ?= python3
PORT ?= 5000
WORKERS ?= 2
# Test processes in parallel (pytest-xdist); each has its own database.
TEST_WORKERS ?= 2
FLASK = $(VENV)/bin/flask --app wsgi
# gunicorn's settings (threaded workers, the access log without query strings) are in gunicorn_config.py,
# shared with the browser tests and bench/crash.py.
GUNICORN = $(VENV)/bin/gunicorn -c gunicorn_config.py

.PHONY: run test install secrets db lint clean bench-load

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip
	$(VENV)/bin/pip install --quiet -e '.[dev]'
	touch $@

install: $(VENV)/.installed

## The local demo's secrets, generated once under instance/ (kept if present; never committed).
secrets: install
	$(VENV)/bin/python -m config demo-secrets

## Apply migrations to the database (SQLite under instance/ unless DATABASE_URL says otherwise).
db: secrets
	$(FLASK) db upgrade

## Install, migrate, load demo data the first time, and serve on http://127.0.0.1:$(PORT).
run: db
	$(FLASK) demo seed --if-empty
	@echo "Serving on http://127.0.0.1:$(PORT)"
	$(GUNICORN) --bind 127.0.0.1:$(PORT) --workers $(WORKERS) wsgi:app

## The whole test suite (DATABASE_URL=postgresql+psycopg://... runs it on PostgreSQL), then its slowest tests.
test: install
	$(VENV)/bin/pytest -n $(TEST_WORKERS) --cov --cov-report=term:skip-covered --durations=25 $(PYTEST_ARGS)

## Ruff, the one-way package imports (import-linter) and the types (mypy: strict on services, models
## and core); the settings are in pyproject.toml.
lint: install
	$(VENV)/bin/ruff check clinic config.py wsgi.py gunicorn_config.py
	$(VENV)/bin/lint-imports --no-logo
	$(VENV)/bin/mypy

## The mixed-load benchmark (issue 17) against `make run`'s gunicorn, on a PostgreSQL database filled by
## `python -m bench.populate`; BENCH_ARGS="--users 16 --duration 60" and the like pass on.
BENCH_DATABASE ?= postgresql+psycopg://postgres@127.0.0.1:5432/clinic_bench
bench-load: install
	$(VENV)/bin/pip install --quiet -e '.[bench]'
	$(VENV)/bin/python -m bench.load --database '$(BENCH_DATABASE)' --workers $(WORKERS) $(BENCH_ARGS)

clean:
	rm -rf $(VENV) .pytest_cache .coverage htmlcov .mypy_cache .ruff_cache .import_linter_cache
