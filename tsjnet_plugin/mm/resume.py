"""Exact resume for mmengine runs: every RNG state in the checkpoint, restored at the right time,
and the newest readable checkpoint when the latest is truncated.

mmengine's resume restores the weights, optimizer, schedulers, message hub and iteration, and
:class:`~mmengine.runner.IterBasedTrainLoop` then fast-forwards the data iterator over the
batches already trained on (the sampler's order is a function of its seed). What it does not
restore is the RNG state the uninterrupted run had at that point: it re-seeds from the start.
:class:`TSJExactResumeHook` closes that gap (``tools/train_mm.py`` adds it to every config).
"""

from __future__ import annotations

import os.path as osp
from pathlib import Path
from typing import Any

from mmengine.hooks import Hook
from mmengine.registry import HOOKS
from mmengine.runner import IterBasedTrainLoop, Runner

from tsjnet_plugin.training.resume import newest_readable_checkpoint
from tsjnet_plugin.training.rng import capture_rng_state, restore_rng_state

__all__ = ["TSJExactResumeHook", "resume_checkpoint"]

RNG_KEY = "tsj_rng_state"


@HOOKS.register_module()
class TSJExactResumeHook(Hook):
    """Save the RNG states (python, numpy, torch, CUDA) in every checkpoint and restore them on
    resume, right before the first batch of the resumed iteration is drawn (after mmengine's
    fast-forward over the data already trained on, which draws random augmentations).

    Validation runs between a checkpoint and the next training iteration in the uninterrupted
    run but not in the resumed one, so the hook also makes validation leave the RNG states as it
    found them. Exact for ``IterBasedTrainLoop`` with ``num_workers=0`` (worker processes draw
    their own augmentations); an epoch-based run gets the states back at its first epoch.
    """

    priority = "VERY_LOW"

    def __init__(self) -> None:
        self._resumed: dict[str, Any] | None = None
        self._before_val: dict[str, Any] | None = None

    def before_save_checkpoint(self, runner: Runner, checkpoint: dict) -> None:
        checkpoint[RNG_KEY] = capture_rng_state()

    def after_load_checkpoint(self, runner: Runner, checkpoint: dict) -> None:
        self._resumed = checkpoint.get(RNG_KEY)

    def before_train_epoch(self, runner: Runner) -> None:
        state, self._resumed = self._resumed, None
        if state is None or runner.iter == 0:
            return
        loop = runner.train_loop
        if isinstance(loop, IterBasedTrainLoop):
            loop.dataloader_iterator = _RestoreBeforeBatch(loop, runner.iter, state)
        else:
            restore_rng_state(state)

    def before_val(self, runner: Runner) -> None:
        self._before_val = capture_rng_state()

    def after_val(self, runner: Runner) -> None:
        if self._before_val is not None:
            restore_rng_state(self._before_val)
            self._before_val = None


class _RestoreBeforeBatch:
    """Stands in for an iteration loop's data iterator: passes ``skip`` batches through (the
    fast-forward), then restores ``state`` before drawing the next one and puts the original
    iterator back."""

    def __init__(self, loop: IterBasedTrainLoop, skip: int, state: dict[str, Any]) -> None:
        self.loop, self.inner, self.skip, self.state = loop, loop.dataloader_iterator, skip, state

    def __iter__(self) -> _RestoreBeforeBatch:
        return self

    def __next__(self) -> Any:
        if self.skip > 0:
            self.skip -= 1
            return next(self.inner)
        restore_rng_state(self.state)
        self.loop.dataloader_iterator = self.inner
        return next(self.inner)


def resume_checkpoint(work_dir: str | Path) -> str | None:
    """The checkpoint ``--resume`` continues from: the one ``work_dir/last_checkpoint`` names or,
    when it is missing or unreadable, the newest readable ``*.pth`` in ``work_dir`` (logged);
    None when there is none."""
    work_dir = Path(work_dir)
    marker = work_dir / "last_checkpoint"
    latest = marker.read_text().strip() if marker.is_file() else None
    if latest and not osp.isabs(latest):
        latest = str(work_dir / latest)
    found = newest_readable_checkpoint(latest, sorted(work_dir.glob("*.pth")))
    return str(found) if found else None
