# Every target sets up what it needs from nothing: only python3 (3.11+) and make.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
BIN := $(VENV)/bin

.PHONY: run test check bench bench-quick clean

$(BIN)/activate:
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/activate
	$(PY) -m pip install -q -e .
	@touch $@

$(VENV)/.installed-dev: pyproject.toml | $(BIN)/activate
	$(PY) -m pip install -q -e '.[dev]'
	@touch $@ $(VENV)/.installed

# Byte-compile the project's sources: where PYTHONDONTWRITEBYTECODE is set, every process
# (each CLI turn and app the tests start) would otherwise compile them again.
COMPILE = $(PY) -m compileall -q engine tui worker

## Open the app on the bundled sample scorecards (or ./scorecards, or $$SCORECHAT_WORKSPACE).
run: $(VENV)/.installed
	@$(COMPILE)
	$(BIN)/scorechat $(ARGS)

## Run the whole test suite (three processes; PYTEST_WORKERS=0 runs it in one).
# Three on two cores: many tests wait on the processes and terminals they start, and a
# third worker runs meanwhile (about 10% less wall time than two, measured here).
PYTEST_WORKERS ?= 3
test: $(VENV)/.installed-dev
	@$(COMPILE)
	$(PY) -m pytest -n $(PYTEST_WORKERS) $(PYTEST_ARGS)

## Lint, type-check the engine, and enforce that the engine never imports the UI.
check: $(VENV)/.installed-dev
	$(BIN)/ruff check engine tui worker tests benchmarks
	$(BIN)/ruff format --check engine tui worker tests benchmarks
	$(BIN)/mypy engine tui worker
	$(BIN)/lint-imports

## Run every benchmark (5 runs each) and rewrite docs/performance.md.
bench: $(VENV)/.installed-dev
	@$(COMPILE)
	$(PY) -m benchmarks

## Run each benchmark once: a smoke check.
bench-quick: $(VENV)/.installed-dev
	@$(COMPILE)
	$(PY) -m benchmarks --quick

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
