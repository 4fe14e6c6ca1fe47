# RotBGR: `make run` opens the app on the sample folder; `make test` runs everything headless.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint typecheck unit bench clean check-qt-libs

$(BIN)/python:
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "Python 3.11 is required (set PYTHON=/path/to/python3.11)"; exit 2; }
	$(PYTHON) -m venv $(VENV)

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --upgrade pip
	$(BIN)/python -m pip install -e '.[test]'
	touch $(STAMP)

run: $(STAMP) check-qt-libs
	$(BIN)/rotbgr gui resources/sample

check-qt-libs: $(STAMP)
	@$(BIN)/python -m app.qtcheck

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/mypy

unit: $(STAMP)
	ROTBGR_BLOCK_QT=1 PYTEST_DISABLE_PLUGIN_AUTOLOAD=1 $(BIN)/python -m pytest -q tests/core
	QT_QPA_PLATFORM=offscreen $(BIN)/python -m pytest -q tests

test: lint unit

bench: $(STAMP)
	$(BIN)/python bench/predict_fix.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
