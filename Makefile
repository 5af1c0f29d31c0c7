# The two commands of README.md: `make demo` (main job) and `make test` (test suite).
# Both set up .venv first; setup is idempotent and skips what is already installed.
VENV ?= .venv
PY := $(VENV)/bin/python
OUT ?= output/demo

.PHONY: setup setup-check demo test lint env benchmark

setup:
	@bash tools/setup_env.sh

setup-check:  # what `make setup` would do, installing nothing
	@SETUP_CHECK=1 bash tools/setup_env.sh

demo: setup
	$(PY) tools/demo.py --out $(OUT)

test: setup
	$(PY) -m pytest

lint: setup
	$(PY) -m ruff check . && $(PY) -m ruff format --check .

env: setup
	$(PY) -m tsjnet_plugin.env

benchmark: setup
	$(PY) tools/benchmark.py --out output/benchmark --archs official fast
