"""mm checkpoints load as data only: a real checkpoint of our configs resumes through mmengine's
runner, a crafted one that names `os.system` is refused, named, and does not run."""

from __future__ import annotations

import os
import runpy
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from mmengine.logging import HistoryBuffer
from mmengine.runner import CheckpointLoader

from tsjnet_plugin.fusion import CheckpointError
from tsjnet_plugin.mm import cli
from tsjnet_plugin.mm.checkpoint import install_safe_loader, load_local_checkpoint

REPO = Path(__file__).resolve().parents[2]
CONFIG = REPO / "configs" / "mm" / "deeplabv3plus_r18-d8_tsj-fast_synthetic-96x128.py"


class RunsCode:
    """Pickles as `os.system("touch <marker>")`."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def _train_args(tmp_path: Path, iters: int, *extra: str) -> list[str]:
    root = str(tmp_path / "synthetic")
    return [
        str(CONFIG),
        *("--work-dir", str(tmp_path / "work")),
        "--cfg-options",
        f"train_cfg.max_iters={iters}",
        "train_cfg.val_interval=100",
        "default_hooks.checkpoint.interval=1",
        "default_hooks.logger.interval=1",
        *(f"{split}_dataloader.dataset.data_root={root}" for split in ("train", "val", "test")),
        *(f"{split}_dataloader.dataset.reader_args.num_{split}=2" for split in ("train", "test")),
        *extra,
    ]


def _runner(argv: list[str]):
    sys.path.insert(0, str(REPO / "tools"))
    try:
        import train_mm
    finally:
        sys.path.pop(0)
    args = train_mm.parse_args(argv)
    return cli.build_runner(train_mm.build_config(args), args.trust_checkpoint)


def test_real_checkpoint_resumes_through_the_data_only_loader(tmp_path):
    first = _runner(_train_args(tmp_path, 1))
    first.train()
    saved = tmp_path / "work" / "iter_1.pth"
    # What an mmengine checkpoint of our configs holds besides tensors loads as data.
    payload = load_local_checkpoint(saved, "cpu")
    assert {"meta", "state_dict", "message_hub", "optimizer"} <= set(payload)
    buffer = payload["message_hub"]["log_scalars"]["train/loss"]
    assert isinstance(buffer, HistoryBuffer) and buffer.data[0].shape == (1,)
    assert buffer.mean() == pytest.approx(float(buffer.data[0][0]))

    resumed = _runner(_train_args(tmp_path, 2, "--resume"))
    assert CheckpointLoader._get_checkpoint_loader(str(saved)).__module__ == (
        "tsjnet_plugin.mm.checkpoint"
    )
    resumed.train()
    assert resumed.iter == 2
    losses = resumed.message_hub.get_scalar("train/loss").data[0]
    assert losses.shape == (2,) and losses[0] == buffer.data[0][0]  # history restored


def test_crafted_checkpoint_is_refused_named_and_not_run(tmp_path, capsys, monkeypatch):
    marker = tmp_path / "ran"
    evil = tmp_path / "evil.pth"
    torch.save({"meta": {"iter": 1}, "state_dict": {}, "hook": RunsCode(marker)}, evil)
    with pytest.raises(CheckpointError, match=r"evil\.pth: it pickles (posix|os|nt)\.system"):
        load_local_checkpoint(evil)
    install_safe_loader()
    with pytest.raises(CheckpointError, match=r"(posix|os|nt)\.system"):
        CheckpointLoader.load_checkpoint(str(evil), map_location="cpu")
    # Through the tool: one line, exit 2, before training.
    argv = ["tools/train_mm.py", *_train_args(tmp_path, 2, "--resume", str(evil))]
    argv.remove("--resume")
    argv.insert(argv.index(str(evil)), "--resume")
    monkeypatch.setattr(sys, "argv", argv)
    with pytest.raises(SystemExit) as exit_info:
        runpy.run_path(str(REPO / "tools" / "train_mm.py"), run_name="__main__")
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert "train_mm: error: refusing to load checkpoint" in err and "Traceback" not in err
    assert not marker.exists()
    # Opting in for a trusted file unpickles it fully (and so would run it).
    assert load_local_checkpoint(evil, trusted=True)["hook"] == 0 and marker.exists()


def test_allow_list_is_data_only(tmp_path):
    path = tmp_path / "numpy.pth"
    torch.save({"a": np.float32(2.5), "b": np.arange(3), "c": np.dtype("int16")}, path)
    loaded = load_local_checkpoint(path)
    assert loaded["a"] == np.float32(2.5) and loaded["b"].tolist() == [0, 1, 2]
    getattr_abuse = tmp_path / "getattr.pth"

    class ReadsAttribute:
        def __reduce__(self):
            return (getattr, (HistoryBuffer, "update"))

    torch.save({"x": ReadsAttribute()}, getattr_abuse)
    with pytest.raises(CheckpointError, match="getattr"):
        load_local_checkpoint(getattr_abuse)
    (tmp_path / "junk.pth").write_bytes(os.urandom(512))
    with pytest.raises(CheckpointError, match=r"cannot read checkpoint .*junk\.pth") as info:
        load_local_checkpoint(tmp_path / "junk.pth")
    assert "weights_only" not in str(info.value)
