# Two commands on a fresh machine: `make run` and `make test`.
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-stamp
PORT   ?= 8501

.PHONY: setup run test test-fast check bench chromium clean

$(STAMP): pyproject.toml
	@test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check -e '.[vision,dev]'
	@touch $(STAMP)

setup: $(STAMP)

## Serve the app at http://127.0.0.1:$(PORT) (data in $$MODELYARD_HOME, default ~/.modelyard)
run: setup
	$(VENV)/bin/modelyard app --port $(PORT)

## The whole suite, browser test included
test: setup chromium
	$(PY) -m pytest

## Everything but the slow and browser tests
test-fast: setup
	$(PY) -m pytest -m "not slow and not browser"

check: setup
	$(VENV)/bin/ruff check modelyard tests bench

bench: setup
	$(PY) -m pip install -q --disable-pip-version-check -e '.[vision,dev,bench]'
	$(PY) -m bench.run

## Debian's Chromium for the browser test (never `playwright install`: no internet)
chromium:
	@command -v chromium >/dev/null 2>&1 || { \
	  SUDO=$$(test "$$(id -u)" = 0 || echo sudo); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium; }

clean:
	rm -rf $(VENV) .pytest_cache test-artifacts
