"""Exact resume of tools/train_net.py: SIGKILL after a checkpoint, a truncated latest checkpoint
and a save fragment, then --resume reproduces the uninterrupted run's per-iteration losses."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from detectron2.data.samplers import TrainingSampler

from tsjnet_plugin.d2.sampler import ResumableTrainingSampler

ROOT = Path(__file__).resolve().parents[2]
ITERS = 6
TINY_RUN = [
    "MODEL.TSJNET.ARCH", "tiny",
    "MODEL.TSJNET.WEIGHTS", "",
    "MODEL.ROI_HEADS.BATCH_SIZE_PER_IMAGE", "32",
    "MODEL.RPN.BATCH_SIZE_PER_IMAGE", "64",
    "MODEL.FPN.OUT_CHANNELS", "32",
    "INPUT.MIN_SIZE_TRAIN", "(64,)",
    "INPUT.MAX_SIZE_TRAIN", "80",
    "DATASETS.TEST", "()",
    "DATALOADER.NUM_WORKERS", "0",
    "SOLVER.IMS_PER_BATCH", "2",
    "SOLVER.WARMUP_ITERS", "0",
    "SOLVER.MAX_ITER", str(ITERS),
    "SOLVER.CHECKPOINT_PERIOD", "2",
    "SOLVER.LOG_PERIOD", "1",
    "SEED", "0",
]  # fmt: skip


def test_resumable_sampler_continues_the_stream():
    stream = iter(TrainingSampler(5, seed=3))
    expected = [next(stream) for _ in range(17)]
    for start in (0, 4, 5, 11):
        resumed = iter(ResumableTrainingSampler(5, seed=3, start=start))
        assert [next(resumed) for _ in range(17 - start)] == expected[start:]


def _command(out: Path, *extra: str) -> list[str]:
    return [
        sys.executable,
        "tools/train_net.py",
        "--config-file",
        "configs/tsj_faster_rcnn_demo_cpu.yaml",
        *extra,
        *TINY_RUN,
        "OUTPUT_DIR",
        str(out),
    ]


def _losses(out: Path) -> dict[int, float]:
    """iteration -> total_loss from metrics.json (a resumed iteration's last line wins)."""
    rows = [json.loads(line) for line in (out / "metrics.json").read_text().splitlines()]
    return {r["iteration"]: r["total_loss"] for r in rows if "total_loss" in r}


@pytest.fixture()
def env(tmp_path):
    return {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "OMP_NUM_THREADS": "1",
        "TSJNET_DATASETS": str(tmp_path / "datasets"),
    }


def test_kill_and_resume_with_a_truncated_latest_checkpoint_matches_the_uninterrupted_run(
    tmp_path, env
):
    full = subprocess.run(
        _command(tmp_path / "full"), cwd=ROOT, env=env, capture_output=True, text=True, timeout=600
    )
    assert full.returncode == 0, full.stderr[-3000:]
    expected = _losses(tmp_path / "full")
    assert sorted(expected) == list(range(ITERS))

    out = tmp_path / "killed"
    killed = subprocess.Popen(
        _command(out), cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    deadline = time.monotonic() + 600
    while not (out / "model_0000003.pth").is_file() and killed.poll() is None:
        assert time.monotonic() < deadline, "no checkpoint after 600 s"
        time.sleep(0.05)
    killed.send_signal(signal.SIGKILL)
    killed.wait()
    assert not (out / "model_final.pth").exists(), "the run ended before it was killed"
    # The latest checkpoint is truncated and a save fragment lies next to it: resume falls back.
    latest = out / "model_0000003.pth"
    latest.write_bytes(latest.read_bytes()[: latest.stat().st_size // 2])
    (out / ".model_0000005.pth.x1y2.tmp").write_bytes(b"partial")

    resumed = subprocess.run(
        _command(out, "--resume"), cwd=ROOT, env=env, capture_output=True, text=True, timeout=600
    )
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert "model_0000003.pth is missing or unreadable" in resumed.stderr + resumed.stdout
    assert "resuming from " + str(out / "model_0000001.pth") in resumed.stderr + resumed.stdout
    got = _losses(out)
    assert sorted(got) == list(range(ITERS))
    for iteration in range(ITERS):
        assert got[iteration] == pytest.approx(expected[iteration], rel=1e-5, abs=1e-6), iteration


def test_two_process_resume_restores_every_ranks_rng(tmp_path, env):
    """Two gloo processes: a run stopped after iteration 1 and resumed to iteration 3 logs the
    uninterrupted run's losses (averaged over both ranks, whose flips and proposal sampling
    draw from their own generators)."""
    env = {**env, "CUDA_VISIBLE_DEVICES": ""}  # gloo; detectron2 would pick NCCL with a GPU

    def command(out: Path, port: int, iters: int, *extra: str) -> list[str]:
        flags = ["--num-gpus", "2", "--dist-url", f"tcp://127.0.0.1:{port}", *extra]
        return [*_command(out, *flags), "SOLVER.MAX_ITER", str(iters), "SOLVER.IMS_PER_BATCH", "4"]

    runs = [
        subprocess.Popen(command(tmp_path / name, port, iters), cwd=ROOT, env=env,
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        for name, port, iters in (("full", 29571, 4), ("part", 29573, 2))
    ]  # fmt: skip
    for run in runs:
        _, stderr = run.communicate(timeout=900)
        assert run.returncode == 0, stderr[-3000:]
    resumed = subprocess.run(
        command(tmp_path / "part", 29575, 4, "--resume"),
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert "no RNG states" not in resumed.stderr + resumed.stdout
    expected, got = _losses(tmp_path / "full"), _losses(tmp_path / "part")
    assert sorted(got) == sorted(expected) == [0, 1, 2, 3]
    for iteration in (2, 3):
        assert got[iteration] == pytest.approx(expected[iteration], rel=1e-5, abs=1e-6), iteration
