# Two entry points that work on a fresh machine with only Python 3.11+ and make.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: run test lint bench clean browser lab

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e ".[dev]"
	@touch $(STAMP)

run: $(STAMP)
	$(BIN)/scslab run beijing-2020 --report

# The lab (docs/lab.md): a local web app, on 127.0.0.1 only; runs go under runs/.
lab: $(STAMP)
	$(BIN)/scslab lab

test: $(STAMP) browser
	$(BIN)/python -m pytest -q -n 2 --dist worksteal

# Headless Chromium for tests/test_browser.py (Debian's package; as root). Without it those tests skip.
browser:
	@command -v chromium >/dev/null 2>&1 || { test "$$(id -u)" = 0 && command -v apt-get >/dev/null 2>&1 && \
	  { DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium >/dev/null 2>&1 || \
	    { apt-get update -q >/dev/null 2>&1 && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium >/dev/null 2>&1; }; }; } \
	  || echo "note: chromium could not be installed (needs root and apt-get); the browser tests will skip"

# ruff, mypy, and the import layers of pyproject.toml ([tool.importlinter]).
lint: $(STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/mypy src
	$(BIN)/lint-imports

bench: $(STAMP)
	$(BIN)/python bench/run_bench.py

clean:
	rm -rf $(VENV) runs .pytest_cache .mypy_cache .ruff_cache
