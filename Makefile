# Tiếp Dân: `make run` starts the assistant, `make test` runs the test suite.
# Both set up .venv (Python 3.10, pinned dependencies) first when needed.
.PHONY: setup run test lint bench clean

VENV := .venv
BIN := $(VENV)/bin

setup:
	@bash scripts/setup.sh

run: setup
	@$(BIN)/tiepdan run

test: setup
	@bash scripts/test.sh

lint: setup
	$(BIN)/ruff check bot actions channels tests bench
	$(BIN)/lint-imports

# `make bench ARGS="--duration 300"` for the 5-minute sustained run (see bench/compare.py).
bench: setup
	$(BIN)/python -m bench $(ARGS)

clean:
	rm -rf var/run var/test-models .pytest_cache
