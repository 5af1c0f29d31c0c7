"""Exact resume of tools/train_mm.py: SIGKILL after a checkpoint, --resume, the same per-iteration
losses as the uninterrupted run; a truncated latest checkpoint falls back to the newest readable."""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from tsjnet_plugin.mm.resume import resume_checkpoint

ROOT = Path(__file__).resolve().parents[2]
CONFIG = "configs/mm/joint_faster-rcnn_deeplabv3plus_r18_tsj-fast_alternate_synthetic-96x128.py"
ITERS = 6


def _command(work_dir: Path, data_root: Path, *extra: str) -> list[str]:
    options = [
        "model.fusion.arch=tiny",
        "model.fusion.checkpoint=None",
        f"train_cfg.max_iters={ITERS}",
        "train_cfg.val_interval=2",
        "param_scheduler=[]",
        "default_hooks.checkpoint.interval=2",
        "default_hooks.logger.interval=1",
        "log_processor.window_size=1",
        "randomness.seed=0",
        *(f"{loader}.dataset.data_root={data_root}" for loader in ("train_dataloader",
                                                                   "val_dataloader",
                                                                   "test_dataloader")),
    ]  # fmt: skip
    return [sys.executable, "tools/train_mm.py", CONFIG, "--work-dir", str(work_dir), *extra,
            "--cfg-options", *options]  # fmt: skip


def _losses(work_dir: Path) -> dict[int, float]:
    """iteration -> loss from the runs' scalar logs (a later run's line for an iteration wins)."""
    losses = {}
    for log in sorted(work_dir.glob("*/vis_data/scalars.json")):
        for line in log.read_text().splitlines():
            row = json.loads(line)
            if "loss" in row:
                losses[row["iter"]] = row["loss"]
    return losses


def test_killed_run_resumes_with_the_uninterrupted_losses(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    data_root = tmp_path / "synthetic"
    full = subprocess.run(
        _command(tmp_path / "full", data_root), cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert full.returncode == 0, full.stderr[-3000:]
    expected = _losses(tmp_path / "full")
    assert sorted(expected) == list(range(1, ITERS + 1))

    work_dir = tmp_path / "killed"
    run = subprocess.Popen(
        _command(work_dir, data_root), cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip
    deadline = time.monotonic() + 600
    while not (work_dir / "last_checkpoint").is_file():  # written after the checkpoint file
        assert run.poll() is None and time.monotonic() < deadline, "no checkpoint"
        time.sleep(0.05)
    run.send_signal(signal.SIGKILL)
    run.wait()
    saved = Path((work_dir / "last_checkpoint").read_text().strip()).name
    assert saved != f"iter_{ITERS}.pth", "the run ended before it was killed"

    resumed = subprocess.run(
        _command(work_dir, data_root, "--resume"), cwd=ROOT, env=env, capture_output=True,
        text=True,
    )  # fmt: skip
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert f"resumed epoch: 0, iter: {saved[5:-4]}" in resumed.stdout + resumed.stderr
    got = _losses(work_dir)
    assert sorted(got) == list(range(1, ITERS + 1))
    for iteration, value in expected.items():
        assert got[iteration] == pytest.approx(value, rel=1e-6), iteration


def test_resume_checkpoint_falls_back_to_the_newest_readable(tmp_path, caplog):
    for iteration in (2, 4, 6):
        torch.save({"meta": {"iter": iteration}}, tmp_path / f"iter_{iteration}.pth")
        time.sleep(0.01)  # distinct modification times
    (tmp_path / "last_checkpoint").write_text(str(tmp_path / "iter_4.pth"))
    assert resume_checkpoint(tmp_path) == str(tmp_path / "iter_4.pth")
    assert not caplog.records

    latest = tmp_path / "iter_6.pth"
    latest.write_bytes(latest.read_bytes()[:-40])
    (tmp_path / "last_checkpoint").write_text("iter_6.pth")  # relative names work too
    (tmp_path / ".iter_8.pth.tmp").write_bytes(b"fragment")
    with caplog.at_level(logging.WARNING):
        assert resume_checkpoint(tmp_path) == str(tmp_path / "iter_4.pth")
    assert len(caplog.records) == 1
    assert "iter_6.pth is missing or unreadable" in caplog.records[0].getMessage()

    (tmp_path / "last_checkpoint").unlink()
    for path in tmp_path.glob("iter_*.pth"):
        path.write_bytes(b"not a checkpoint")
    assert resume_checkpoint(tmp_path) is None
    assert resume_checkpoint(tmp_path / "missing") is None
