# Tributary: the two commands are `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
HOST ?= 127.0.0.1
PORT ?= 8000
DEMO_CUSTOMERS ?= 2000
# The embedded default runs in development mode on loopback.
export DEBUG ?= true

.PHONY: run test test-thorough install migrate seed lint format check bench clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet ".[dev]"
	touch $@

install: $(VENV)/.installed

migrate: install
	$(PY) manage.py migrate --noinput

seed: migrate
	$(PY) manage.py seed_demo --if-empty --customers $(DEMO_CUSTOMERS) --base-url http://$(HOST):$(PORT)

run: seed
	$(PY) manage.py ensure_admin --url http://$(HOST):$(PORT)/admin/
	$(PY) manage.py runserver $(HOST):$(PORT)

test: install
	$(PY) -m pytest $(PYTEST_ARGS)

# the batch = one-at-a-time property test with 1,000 examples instead of CI's 100
test-thorough: install
	$(PY) -m pytest tests/sources/test_batch_equivalence_property.py --hypothesis-profile=thorough $(PYTEST_ARGS)

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports
	$(PY) .ci/import_cycles.py

format: install
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

check: install
	$(PY) manage.py makemigrations --check --dry-run
	$(PY) manage.py check

clean:
	rm -rf $(VENV) var
