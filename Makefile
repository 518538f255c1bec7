# The two commands a newcomer runs (see README): `make run` and `make test`.
# Everything they need is installed here, into .venv; Kafka's jars are fetched by the hub itself.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp

.PHONY: run serve stop test lint pytest bench clean system-deps

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; assert sys.version_info[:2] == (3, 11), "SITN Hub needs Python 3.11, found " + sys.version.split()[0]'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	@touch $@

system-deps:
	@bash .ci/system-deps

## run: the local broker and the hub on embedded defaults (SQLite store, demo data), end to end
run: $(STAMP) system-deps
	$(BIN)/sitn kafka start
	$(BIN)/sitn demo run --serve

## serve: keep the hub running on the local broker until Ctrl-C
serve: $(STAMP) system-deps
	$(BIN)/sitn kafka start
	$(BIN)/sitn worker

stop: $(STAMP)
	$(BIN)/sitn kafka stop

## test: lint, type-check, import contracts, then the whole suite against real components
test: lint pytest

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports

pytest: $(STAMP) system-deps
	$(BIN)/coverage run -m pytest
	$(BIN)/coverage report

bench: $(STAMP) system-deps
	$(BIN)/python -m bench.broker_ready 3

clean:
	-$(BIN)/sitn kafka stop
	rm -rf $(VENV) .sitn .coverage .mypy_cache .pytest_cache .ruff_cache
