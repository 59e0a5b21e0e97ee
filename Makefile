# Recado: `make run` starts everything for development, `make test` runs the whole suite.
SHELL := /bin/bash
.SHELLFLAGS := -o pipefail -c
.DEFAULT_GOAL := help
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
STAMP := $(VENV)/.installed
# pyenv reads .python-version (3.13); without pyenv, any python3.13 on PATH does.
PYTHON ?= $(shell command -v python3.13 2>/dev/null || echo python3)
MANAGE := $(PY) manage.py
CHROMIUM := /usr/bin/chromium

.PHONY: help run test lint bench messages migrate seed lock browser-deps redis clean

help:
	@echo "make run    - set up and start Recado (web, worker, beat, simulator) with demo data"
	@echo "make test   - set up what the tests need and run the whole suite"
	@echo "make lint   - ruff, Django checks, migrations check"
	@echo "make bench  - run the benchmarks and print JSON"
	@echo "make lock   - re-pin every installed package in constraints.txt"

$(STAMP): requirements.txt requirements-dev.txt constraints.txt
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 13), "Recado needs Python 3.13 (see .python-version)"'
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@echo "Installing Python packages into $(VENV)…"
	@$(PIP) install -q --disable-pip-version-check -r requirements-dev.txt -c constraints.txt
	@$(PY) -c "import django, channels, celery" # fail here, not later, if the install broke
	@touch $(STAMP)

# Babel compiles the catalogues, so GNU gettext is not needed.
messages: $(STAMP)
	@if compgen -G "locale/*/LC_MESSAGES/django.po" >/dev/null; then $(VENV)/bin/pybabel -q compile -d locale -D django; fi

migrate: $(STAMP) messages
	@$(MANAGE) migrate --noinput -v 0

seed: migrate
	@$(MANAGE) seed_demo

redis: $(STAMP)
	@$(PY) -m config.ensure_redis

run: redis seed
	@$(PY) -m config.banner
	@# Webhooks may reach receivers on this machine in development (production refuses private addresses); the
	@# sender's two children serve two drain slots per number (production: four of each).
	@WEBHOOKS_ALLOW_PRIVATE_NETWORKS=$${WEBHOOKS_ALLOW_PRIVATE_NETWORKS:-true} OUTBOUND_DRAIN_SLOTS=$${OUTBOUND_DRAIN_SLOTS:-2} PATH="$(CURDIR)/$(VENV)/bin:$$PATH" $(VENV)/bin/honcho -f Procfile start

browser-deps:
	@test -x $(CHROMIUM) || { \
	  if [ "$$(id -u)" = 0 ]; then echo "Installing Debian's chromium for the browser tests…"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium >/dev/null; \
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
