"""RNG state capture/restore and the choice of the checkpoint to resume from."""

from __future__ import annotations

import logging
import random

import numpy as np
import pytest
import torch

from tsjnet_plugin.training.resume import is_readable_checkpoint, newest_readable_checkpoint
from tsjnet_plugin.training.rng import capture_rng_state, restore_rng_state


def _draws() -> tuple:
    return (
        random.random(),
        np.random.rand(3).tolist(),  # noqa: NPY002 (the global generator is what is saved)
        np.random.randn(),  # noqa: NPY002 (exercises numpy's cached gaussian)
        torch.rand(3).tolist(),
    )


def test_restored_state_repeats_every_generator_after_a_weights_only_round_trip(tmp_path):
    np.random.randn()  # noqa: NPY002 (leaves a cached gaussian in numpy's state)
    state = capture_rng_state()
    torch.save({"rng": state}, tmp_path / "state.pth")
    expected = _draws()
    _draws()
    restore_rng_state(torch.load(tmp_path / "state.pth", weights_only=True)["rng"])
    assert _draws() == expected


def test_restore_rejects_an_incomplete_state():
    with pytest.raises(ValueError, match=r"misses \['numpy'\]"):
        restore_rng_state({k: v for k, v in capture_rng_state().items() if k != "numpy"})


def test_newest_readable_checkpoint_skips_truncated_and_foreign_files(tmp_path, caplog):
    paths = [tmp_path / f"c{i}.pth" for i in range(3)]
    for index, path in enumerate(paths):
        torch.save({"i": index}, path)
    assert all(is_readable_checkpoint(p) for p in paths)
    paths[2].write_bytes(paths[2].read_bytes()[:-30])  # truncated
    paths[1].write_bytes(b"\x00" * 100)  # not an archive
    assert not is_readable_checkpoint(paths[2]) and not is_readable_checkpoint(paths[1])
    assert not is_readable_checkpoint(tmp_path / "missing.pth")
    with caplog.at_level(logging.WARNING):
        assert newest_readable_checkpoint(paths[2], paths) == paths[0]
    assert len(caplog.records) == 1 and "resuming from" in caplog.records[0].getMessage()
    caplog.clear()
    assert newest_readable_checkpoint(paths[0], paths) == paths[0] and not caplog.records
    assert newest_readable_checkpoint(None, paths[1:]) is None
