# Schoolgate — two commands on a fresh machine with Python 3.11:
#   make demo   set up and run on the embedded SQLite database, with a demo district
#   make test   install what tests need and run the whole suite
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
UV := $(BIN)/uv
UV_VERSION := 0.13.9
export UV_PYTHON_DOWNLOADS := never
# Write every module's bytecode at install time: otherwise each process compiles what it imports (over a
# second of start-up for every command, sync and web worker where .pyc files are not written, e.g. with
# PYTHONDONTWRITEBYTECODE set or a read-only install).
export UV_COMPILE_BYTECODE := 1

.PHONY: install install-dev demo test test-postgres lint migrations-check bench lock clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet "uv==$(UV_VERSION)"

# The app and its pinned runtime dependencies (requirements/app.txt is the lock file).
install: $(BIN)/python
	$(UV) pip sync --python $(BIN)/python --quiet requirements/app.txt
	$(UV) pip install --python $(BIN)/python --quiet --no-deps -e .
	$(BIN)/python -m compileall -q src
	@echo "Installed: $(BIN)/schoolgate"

install-dev: $(BIN)/python
	$(UV) pip sync --python $(BIN)/python --quiet requirements/dev.txt
	$(UV) pip install --python $(BIN)/python --quiet --no-deps -e .
	$(BIN)/python -m compileall -q src

demo: install
	$(BIN)/python scripts/demo.py

test: install-dev
	$(BIN)/ruff check src tests bench scripts
	$(BIN)/schoolgate makemigrations --check --dry-run
	$(BIN)/pytest

# The same suite against PostgreSQL (used by CI when a server answers on 127.0.0.1:5432).
test-postgres: install-dev
	SCHOOLGATE_DATABASE_URL=postgres://postgres@127.0.0.1:5432/test $(BIN)/pytest

lint: install-dev
	$(BIN)/ruff check src tests bench scripts

bench: install-dev
	$(BIN)/python bench/run.py --write

# Re-pin dependencies after editing pyproject.toml.
lock: $(BIN)/python
	$(UV) pip compile pyproject.toml --python-version 3.11 --generate-hashes -q -o requirements/app.txt
	$(UV) pip compile pyproject.toml --extra dev --python-version 3.11 --generate-hashes -q -o requirements/dev.txt

clean:
	rm -rf $(VENV) var .pytest_cache
