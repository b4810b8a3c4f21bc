SHELL := /bin/bash
# Two commands on a fresh machine: `make run` and `make test`.
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-stamp
PORT   ?= 8501

.PHONY: setup run test test-fast check bench chromium postgresql clean

APP_STAMP := $(VENV)/.installed-app

# The app alone: the tables-only package, pip's progress shown. Image models (torch + timm,
# about 5 GB) are offered by the app itself the first time they are needed.
$(APP_STAMP): pyproject.toml
	@test -x $(PY) || { echo "Creating the virtual environment in $(VENV) ..."; python3 -m venv $(VENV); }
	@if [ -f $(STAMP) ] && [ $(STAMP) -nt pyproject.toml ]; then touch $@; exit 0; fi; \
	echo "Installing Modelyard for tables into $(VENV) (the first time takes a minute or two;"; \
	echo "image models are offered later, from the app, when you first need them) ..."; \
	$(PY) -m pip install --disable-pip-version-check -e . | grep -E --line-buffered '^(Collecting|Successfully|ERROR)' ; \
	test $${PIPESTATUS[0]} -eq 0 && touch $@

# Everything the tests need: the vision extra (torch with CUDA, ~5 GB) and the dev tools.
$(STAMP): pyproject.toml
	@test -x $(PY) || python3 -m venv $(VENV)
	@echo "Installing Modelyard with image models and test tools into $(VENV) (first time: a few minutes, ~7 GB) ..."
	$(PY) -m pip install -q --disable-pip-version-check -e '.[vision,dev]'
	@touch $@

setup: $(STAMP)

## Serve the app at http://127.0.0.1:$(PORT) (data in $$MODELYARD_HOME, default ~/.modelyard)
run: $(APP_STAMP)
	$(VENV)/bin/modelyard app --port $(PORT)

## The whole suite, browser test included
test: setup chromium postgresql
	$(PY) -m pytest

## Everything but the slow and browser tests
test-fast: setup
	$(PY) -m pytest -m "not slow and not browser and not bench"

check: setup
	$(VENV)/bin/ruff check modelyard tests bench

bench: setup postgresql
	$(PY) -m pip install -q --disable-pip-version-check -e '.[vision,dev,bench]'
	$(PY) -m pytest -m bench
	$(PY) -m bench.run

## Debian's Chromium for the browser test (never `playwright install`: no internet)
chromium:
	@command -v chromium >/dev/null 2>&1 || { \
	  SUDO=$$(test "$$(id -u)" = 0 || echo sudo); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium; }

## Debian's PostgreSQL for the shared-storage tests and bench (they start their own
## server in a temporary folder; nothing is left running)
postgresql:
	@ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || command -v initdb >/dev/null 2>&1 || { \
	  SUDO=$$(test "$$(id -u)" = 0 || echo sudo); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq postgresql; }

clean:
	rm -rf $(VENV) .pytest_cache test-artifacts
