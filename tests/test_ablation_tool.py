"""tools/ablation.py --quick: every run of the quick settings trains, the report lands in the
generated section only, and a second call reuses the finished runs."""

import json
import math
import os
import subprocess
import sys
from pathlib import Path

from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
QUICK_RUNS = ("fusion-only_pretrained_s0", "both-alternate_pretrained_s0", "visible-only_none_s0")


def run_tool(tmp_path: Path, *extra: str) -> subprocess.CompletedProcess:
    cmd = [sys.executable, str(ROOT / "tools" / "ablation.py"), "--quick"]
    cmd += ["--out", str(tmp_path / "out"), "--results-md", str(tmp_path / "docs" / "results.md")]
    cmd += ["--images", str(tmp_path / "docs" / "images"), *extra]
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    return subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, env=env, timeout=600)


def test_quick_ablation_writes_table_plot_grids_and_resumes(tmp_path):
    docs = tmp_path / "docs" / "results.md"
    docs.parent.mkdir()
    docs.write_text("# Results\n\nprose before\n\n<!-- ablation:quick:begin -->\nold\n"
                    "<!-- ablation:quick:end -->\n\nprose after\n")  # fmt: skip
    result = run_tool(tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]

    for name in QUICK_RUNS:
        run = json.loads((tmp_path / "out" / "results" / f"{name}.json").read_text())
        for metric in ("AP50", "AP", "mIoU"):
            assert 0.0 <= run[metric] <= 100.0, (name, metric, run[metric])
        assert 0.0 < run["EN"] <= 8.0 and -1.0 <= run["SSIM"] <= 1.0
        assert all(math.isfinite(run[m]) for m in ("SF", "MI", "VIF", "Qabf"))
        assert not (tmp_path / "out" / "runs" / name).exists()  # training folders cleaned up
    # Visible-only: the task input is the visible image, so its SSIM with the visible Y is ~1.
    visible = json.loads((tmp_path / "out" / "results" / f"{QUICK_RUNS[2]}.json").read_text())
    assert visible["SSIM"] > 0.95

    text = docs.read_text()
    assert text.startswith("# Results\n\nprose before\n") and text.endswith("prose after\n")
    assert text.count("<!-- ablation:quick:begin -->") == 1 and "\nold\n" not in text
    for row in ("| fusion-only | pretrained | 1 |", "| +both-alternate | pretrained | 1 |"):
        assert row in text
    assert "| visible-only | none | 1 |" in text and "mAP@0.5" in text
    images = tmp_path / "docs" / "images" / "quick"
    for name in ("summary", "fusion-only_pretrained", "both-alternate_pretrained"):
        image = Image.open(images / f"{name}.jpg")
        assert image.format == "JPEG" and image.width <= 1600
        assert (images / f"{name}.jpg").stat().st_size < 200_000
        assert f"images/quick/{name}.jpg" in text

    stamp = {p: p.stat().st_mtime_ns for p in (tmp_path / "out" / "results").iterdir()}
    again = run_tool(tmp_path)
    assert again.returncode == 0, again.stderr[-3000:]
    assert {p: p.stat().st_mtime_ns for p in stamp} == stamp  # finished runs are reused
    assert docs.read_text() == text
