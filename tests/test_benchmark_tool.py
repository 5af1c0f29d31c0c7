"""tools/benchmark.py: side-by-side tables, the training-step table, and the generated block of a
docs page (from a run or from its benchmark.json)."""

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TOOL = [sys.executable, str(ROOT / "tools" / "benchmark.py")]


def run_tool(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [*TOOL, *args], capture_output=True, text=True, cwd=ROOT, env=os.environ, timeout=600
    )


def test_benchmark_writes_ratios_and_the_training_table_into_the_marked_block_only(tmp_path):
    docs = tmp_path / "bench.md"
    docs.write_text("# Title\n\nprose before\n\n<!-- benchmark:cpu:begin -->\nold\n"
                    "<!-- benchmark:cpu:end -->\n\nprose after\n"
                    "\n<!-- benchmark:cuda:begin -->\ngpu pending\n<!-- benchmark:cuda:end -->\n")  # fmt: skip
    out = tmp_path / "out"
    result = run_tool(
        "--archs", "tiny", "fast", "--sizes", "40x48", "--repeats", "1", "--skip-attention",
        "--threads", "1", "--train-archs", "tiny", "--train-size", "64x80", "--train-batch", "2",
        "--out", str(out), "--docs", str(docs),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    results = json.loads((out / "benchmark.json").read_text())
    tiny, fast = (results["archs"][a]["sizes"]["40x48"]["latency_s"] for a in ("tiny", "fast"))
    assert results["archs"]["fast"]["parameters"] > results["archs"]["tiny"]["parameters"]
    plain, checkpointed = results["training"]
    assert (plain["with_cp"], checkpointed["with_cp"]) == (False, True)
    assert plain["batch"] == 2 and plain["size"] == "64x80" and plain["step_s"] > 0
    # Activation checkpointing keeps fewer activations: the step's peak memory is lower.
    assert checkpointed["peak_memory_mib"] < plain["peak_memory_mib"]

    text = docs.read_text()
    assert text.startswith("# Title\n\nprose before\n") and "prose after\n" in text
    assert text.count("<!-- benchmark:cpu:begin -->") == 1 and "\nold\n" not in text
    assert "\ngpu pending\n" in text  # the other device's block is left alone
    assert f"| fast | {tiny / fast:.1f}x |" in text
    time_ratio = checkpointed["step_s"] / plain["step_s"]
    assert f"| tiny | 64x80 | 2 | float32 | torch | on | {checkpointed['step_s']:.3f} |" in text
    assert f"| {time_ratio:.2f}x |" in text

    # The block is regenerated from the output file alone, and replaced, not added.
    first = text
    docs.write_text(first.replace("| fast |", "| edited by hand |"))
    result = run_tool("--from-json", str(out / "benchmark.json"), "--docs", str(docs))
    assert result.returncode == 0, result.stderr
    assert docs.read_text() == first


def test_from_json_rejects_a_file_that_is_not_a_benchmark(tmp_path):
    bad = tmp_path / "other.json"
    bad.write_text(json.dumps({"device": "cuda"}))
    result = run_tool("--from-json", str(bad), "--docs", str(tmp_path / "bench.md"))
    assert result.returncode == 2
    assert f"--from-json {bad}: not a benchmark.json" in result.stderr
    assert not (tmp_path / "bench.md").exists()


def test_demo_block_is_written_from_the_demo_report(tmp_path):
    report = tmp_path / "report"
    report.mkdir()
    (report / "results.json").write_text(
        json.dumps({"bbox": {"AP": 70.48, "AP50": 100.0}, "sem_seg": {"mIoU": 56.815}})
    )
    means = {"EN": 6.3159, "SD": 37.45, "SF": 7.16, "AG": 2.11, "SCD": 1.64, "VIF": 1.0178,
             "Qabf": 0.6769, "SSIM": 0.9768, "MI": 4.25}  # fmt: skip
    per_image = {"a": means, "b": means}
    (report / "fusion_metrics.json").write_text(
        json.dumps({"max": {"per_image": per_image, "mean": means}})
    )
    docs = tmp_path / "bench.md"
    docs.write_text("intro\n<!-- benchmark:demo:begin -->\nold\n<!-- benchmark:demo:end -->\nend\n")
    result = run_tool("--demo-report", str(report), "--docs", str(docs))
    assert result.returncode == 0, result.stderr
    text = docs.read_text()
    assert "bbox AP 70.5, bbox AP50 100.0, sem_seg mIoU 56.8" in text and "its 2 fused" in text
    assert "| max | 6.32 | 37.45 | 7.16 | 2.11 | 1.64 | 1.02 | 0.68 | 0.98 |" in text
    assert "\nold\n" not in text and text.endswith("<!-- benchmark:demo:end -->\nend\n")

    result = run_tool("--demo-report", str(tmp_path / "missing"), "--docs", str(docs))
    assert result.returncode == 2 and "not a `make demo` report" in result.stderr
