# driftloop — the two commands of the README's quick start, and a few more.
#   make demo   set up (a virtualenv in .venv) and run the main job on the embedded Kafka + S3
#   make test   set up and run the whole test suite (what CI runs)
PYTHON ?= python3
VENV   ?= .venv
BIN     = $(VENV)/bin

.PHONY: install demo test test-fast bench compile lint clean

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@

install: $(BIN)/.installed

demo: install
	$(BIN)/driftloop demo

test: install
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/driftloop compile --check
	$(BIN)/python -m pytest

test-fast: install
	$(BIN)/python -m pytest tests/unit

bench: install
	@for b in tests/benchmarks/bench_*.py; do echo "== $$b"; $(BIN)/python $$b || exit 1; done

compile: install
	$(BIN)/driftloop compile

lint: install
	$(BIN)/ruff check .
	$(BIN)/mypy

clean:
	rm -rf $(VENV) .driftloop .pytest_cache .ruff_cache .mypy_cache
