"""On CUDA: tools/benchmark.py runs without natten and writes the inference and training tables."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.cuda

ROOT = Path(__file__).resolve().parents[2]
# Runs the tool with natten unimportable, as on a machine without it.
WITHOUT_NATTEN = (
    "import runpy, sys; sys.modules['natten'] = None; sys.argv[0] = {tool!r}; "
    "runpy.run_path({tool!r}, run_name='__main__')"
)


def test_benchmark_on_cuda_without_natten(tmp_path):
    tool = str(ROOT / "tools" / "benchmark.py")
    args = ["--device", "cuda", "--archs", "fast", "--sizes", "160x192", "--repeats", "1"]
    args += ["--precisions", "bfloat16"]  # each precision compiles flex anew
    args += ["--train-archs", "fast", "--train-size", "160x192", "--out", str(tmp_path)]
    args += ["--docs", str(tmp_path / "bench.md")]
    cmd = [sys.executable, "-c", WITHOUT_NATTEN.format(tool=tool), *args]
    result = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, env=os.environ)
    assert result.returncode == 0, result.stderr[-3000:]
    results = json.loads((tmp_path / "benchmark.json").read_text())
    assert results["env"]["natten"] == "not installed"
    rows = results["inference"] + results["training"]
    # torch and flex; training also with_cp off and on
    assert len(results["inference"]) == 2 and len(results["training"]) == 4
    assert not [r for r in rows if "error" in r], rows
    assert "<!-- benchmark:cuda:begin -->" in (tmp_path / "bench.md").read_text()
