# The two commands of the README: `make run` (the product with demo data, worker and scheduler) and `make test`.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
export PATH := $(CURDIR)/$(BIN):$(PATH)

.PHONY: run test production install install-dev lint system-packages

run: install
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py seed_demo
	$(BIN)/python manage.py scan_deadlines
	@echo "Web app: http://127.0.0.1:8000/admin/  (Ctrl-C stops the web app, the worker and the scheduler)"
	$(BIN)/honcho --procfile Procfile start

test: install-dev
	$(BIN)/pytest

# Production (README, "Production"): the environment gives the settings; each web start migrates, collects the static
# files, then serves with gunicorn; plus the Celery worker and beat. Not for the demo: `make run` is.
production: install
	$(BIN)/honcho --procfile Procfile.production start

lint: install-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/python manage.py makemigrations --check --dry-run

system-packages:
	bash scripts/system_packages.sh

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

install: system-packages $(BIN)/python
	$(BIN)/pip install --quiet -e .

install-dev: system-packages $(BIN)/python
	$(BIN)/pip install --quiet -e ".[dev]"
