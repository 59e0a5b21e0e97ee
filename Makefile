# Recado: `make run` starts everything for development, `make test` runs the whole suite.
SHELL := /bin/bash
.DEFAULT_GOAL := help
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
STAMP := $(VENV)/.installed
# pyenv reads .python-version (3.13); without pyenv, any python3.13 on PATH does.
PYTHON ?= $(shell command -v python3.13 2>/dev/null || echo python3)
MANAGE := $(PY) manage.py

.PHONY: help run test lint bench messages migrate seed lock browser-deps redis clean

help:
	@echo "make run    - set up and start Recado (web, worker, beat, simulator) with demo data"
	@echo "make test   - set up what the tests need and run the whole suite"
	@echo "make lint   - ruff, Django checks, migrations check"
	@echo "make bench  - run the benchmarks and print JSON"

$(STAMP): requirements.txt requirements-dev.txt constraints.txt
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 13), "Recado needs Python 3.13 (see .python-version)"'
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@$(PIP) install -q --disable-pip-version-check -r requirements-dev.txt -c constraints.txt 2>&1 | grep -v "^WARNING: Location" || true
	@$(PY) -c "import django, channels, celery" # fail here, not later, if the install broke
	@touch $(STAMP)

messages: $(STAMP)
	@$(VENV)/bin/pybabel -q compile -d locale -D django --use-fuzzy 2>/dev/null || $(VENV)/bin/pybabel compile -d locale -D django

migrate: $(STAMP) messages
	@$(MANAGE) migrate --noinput -v 0

seed: migrate
	@$(MANAGE) seed_demo

redis: $(STAMP)
	@$(PY) -m config.ensure_redis

run: seed redis
	@$(PY) -m config.banner
	@$(VENV)/bin/honcho -f Procfile start

browser-deps:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null); \
	  else echo "Browser tests need Debian's chromium: sudo apt-get install chromium"; exit 1; fi; }

test: $(STAMP) messages browser-deps
	@$(PY) -m config.ensure_redis --check
	@$(VENV)/bin/ruff check .
	@DJANGO_SETTINGS_MODULE=tests.settings $(MANAGE) check --fail-level WARNING
	@DJANGO_SETTINGS_MODULE=tests.settings $(MANAGE) makemigrations --check --dry-run >/dev/null || { echo "Missing migrations: run manage.py makemigrations"; exit 1; }
	@$(VENV)/bin/pytest -n 2 --create-db $(PYTEST_ARGS)

lint: $(STAMP)
	@$(VENV)/bin/ruff check .
	@$(MANAGE) check
	@$(MANAGE) makemigrations --check --dry-run

bench: $(STAMP)
	@$(PY) -m benchmarks

lock: $(STAMP)
	@(echo "# Every package, transitive ones included, pinned as tested. Regenerate with 'make lock'."; \
	  $(PIP) freeze --disable-pip-version-check | grep -v "^-e") > constraints.txt

clean:
	rm -rf $(VENV) var
