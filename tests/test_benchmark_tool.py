"""tools/benchmark.py: side-by-side tables and the generated block of a docs page."""

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def run_benchmark(tmp_path: Path, docs: Path) -> subprocess.CompletedProcess:
    cmd = [sys.executable, str(ROOT / "tools" / "benchmark.py"), "--archs", "tiny", "fast"]
    cmd += ["--sizes", "40x48", "--repeats", "1", "--skip-attention", "--threads", "1"]
    cmd += ["--out", str(tmp_path / "out"), "--docs", str(docs)]
    return subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, timeout=600)


def test_benchmark_writes_ratios_into_the_marked_block_only(tmp_path):
    docs = tmp_path / "bench.md"
    docs.write_text("# Title\n\nprose before\n\n<!-- benchmark:cpu:begin -->\nold\n"
                    "<!-- benchmark:cpu:end -->\n\nprose after\n")  # fmt: skip
    for _ in range(2):  # a second run replaces the block instead of adding one
        result = run_benchmark(tmp_path, docs)
        assert result.returncode == 0, result.stderr
    text = docs.read_text()
    assert text.startswith("# Title\n\nprose before\n") and text.endswith("prose after\n")
    assert text.count("<!-- benchmark:cpu:begin -->") == 1 and "\nold\n" not in text
    results = json.loads((tmp_path / "out" / "benchmark.json").read_text())
    tiny, fast = (results["archs"][a]["sizes"]["40x48"]["latency_s"] for a in ("tiny", "fast"))
    assert f"| fast | {tiny / fast:.1f}x |" in text
    assert results["archs"]["fast"]["parameters"] > results["archs"]["tiny"]["parameters"]
