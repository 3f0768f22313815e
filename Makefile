# The two commands of the README, and what they are made of.
# Everything installs into .venv/ at the repo root; uv comes from PyPI.
SHELL := /bin/bash
PYTHON ?= python3
UV := $(PYTHON) -m uv
VENV := .venv/bin

.PHONY: demo test setup up down status lint

demo: setup  ## set everything up, start the pipeline and run the demo (services keep running)
	$(VENV)/leadpipe up
	$(VENV)/leadpipe demo

test: setup lint  ## the full test suite: lint, types, unit, integration and end-to-end tiers
	$(VENV)/pytest tests

setup:  ## .venv with the project and its dev tools, exactly as locked
	@$(UV) --version >/dev/null 2>&1 || $(PYTHON) -m pip install --quiet --disable-pip-version-check 'uv>=0.9,<1'
	$(UV) sync --locked --python $(PYTHON)

lint: setup
	$(VENV)/ruff check .
	$(VENV)/ruff format --check .
	$(VENV)/mypy
	$(VENV)/lint-imports --no-cache

up: setup
	$(VENV)/leadpipe up

down:
	$(VENV)/leadpipe down

status:
	$(VENV)/leadpipe status
