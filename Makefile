# The two commands of the README. Both create .venv when it is missing and install what they need.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# One test module per worker process, so a module's server fixtures start once.
PYTEST_ARGS ?= -n auto --dist loadscope

.PHONY: serve test lint bench clean

serve: $(VENV)/.installed-serve
	$(BIN)/modelyard server

test: $(VENV)/.installed-test
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: $(VENV)/.installed-test
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/mypy

bench: $(VENV)/.installed-test
	$(BIN)/python benchmarks/tracking.py

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# The serving extra too: local deployments run `modelyard serve` processes from this .venv.
$(VENV)/.installed-serve: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[postgres,serve]'
	touch $@

$(VENV)/.installed-test: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@ $(VENV)/.installed-serve

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
