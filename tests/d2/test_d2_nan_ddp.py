"""Two gloo processes, one rank's loss NaN at one iteration: both ranks skip that step, keep
identical weights and go on training."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
NAN_ITER = 1


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_nan_on_one_rank_skips_the_step_on_both_and_training_goes_on(tmp_path):
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "OMP_NUM_THREADS": "1",
        "CUDA_VISIBLE_DEVICES": "",  # gloo on CPU, also on a CUDA machine
        "TSJNET_DATASETS": str(tmp_path / "datasets"),
    }
    record = tmp_path / "record"
    cmd = [sys.executable, "tests/d2/nan_on_one_rank.py", "--nan-rank", "1",
           "--nan-iter", str(NAN_ITER), "--record", str(record),
           "--config-file", "configs/tsj_faster_rcnn_demo_cpu.yaml", "--num-gpus", "2",
           "--dist-url", f"tcp://127.0.0.1:{_free_port()}",
           "MODEL.DEVICE", "cpu", "MODEL.TSJNET.ARCH", "tiny", "MODEL.TSJNET.WEIGHTS", "",
           "MODEL.FPN.OUT_CHANNELS", "32", "INPUT.MIN_SIZE_TRAIN", "(64,)",
           "INPUT.MAX_SIZE_TRAIN", "80", "DATASETS.TEST", "()", "DATALOADER.NUM_WORKERS", "0",
           "SOLVER.IMS_PER_BATCH", "4", "SOLVER.WARMUP_ITERS", "0", "SOLVER.MAX_ITER", "4",
           "SOLVER.CHECKPOINT_PERIOD", "100", "OUTPUT_DIR", str(tmp_path / "out")]  # fmt: skip
    result = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stderr[-3000:]
    ranks = [json.loads((record / f"rank{r}.json").read_text()) for r in (0, 1)]
    assert [row["iter"] for row in ranks[0]] == [0, 1, 2, 3]
    # The ranks never diverge: the same weights after every iteration.
    assert [row["digest"] for row in ranks[0]] == [row["digest"] for row in ranks[1]]
    for rows in ranks:
        assert [row["changed"] for row in rows] == [True, False, True, True]
        assert [row["nan_steps"] for row in rows] == [0, 1, 0, 0]
    assert "step skipped (1 in a row)" in result.stderr + result.stdout
    assert (tmp_path / "out" / "model_final.pth").is_file()
