# The two commands of README.md: `make demo` (main job) and `make test` (test suite).
# Both set up .venv first; setup is idempotent and skips what is already installed.
VENV ?= .venv
PY := $(VENV)/bin/python
OUT ?= output/demo

.PHONY: setup setup-check demo test lint env benchmark benchmark-docs

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

# Every generated block of docs/benchmarks.md: CPU (measured now), demo (from make demo's report),
# GPU (from output/benchmark_gpu/benchmark.json, copied from a GPU run; docs/gpu.md).
benchmark-docs: demo
	$(PY) tools/benchmark.py --out output/benchmark --archs official fast --sizes 240x320 480x640 --docs docs/benchmarks.md
	$(PY) tools/benchmark.py --demo-report $(OUT)/report --docs docs/benchmarks.md
	@if [ -f output/benchmark_gpu/benchmark.json ]; then \
	  $(PY) tools/benchmark.py --from-json output/benchmark_gpu/benchmark.json --docs docs/benchmarks.md; \
	else echo "no output/benchmark_gpu/benchmark.json: the GPU block is left as it is (docs/gpu.md)"; fi
