"""Pairs held in memory for fusion training, and a resumable stream of random crop batches.

The batch of iteration ``i`` is a pure function of ``(seed, i)``: the sample order is a
permutation per epoch drawn from ``numpy.random.default_rng([seed, epoch])`` and each crop and
flip from ``default_rng([seed, epoch, position])``. A run resumed at iteration ``i`` therefore
sees exactly the batches the uninterrupted run saw, with no sampler state to save.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from tqdm import tqdm

from ..data import PairRecord, read_ir_levels, read_visible
from ..fusion import ir_to_tensor, rgb_to_y, visible_to_tensor

__all__ = ["CropStream", "LoadedPair", "load_pairs"]


@dataclass
class LoadedPair:
    """One pair as the fusion network sees it.

    Attributes:
        record: where the pair came from.
        ir: ``[1, 1, H, W]`` float32 infrared in [0, 1].
        vis_rgb: ``[1, 3, H, W]`` float32 visible RGB in [0, 1].
        vis_y: ``[1, 1, H, W]`` float32 visible BT.601 luma in [0, 1].
    """

    record: PairRecord
    ir: torch.Tensor
    vis_rgb: torch.Tensor
    vis_y: torch.Tensor


def load_pairs(records: Sequence[PairRecord], progress: bool = True) -> list[LoadedPair]:
    """Read every pair once (validated by the data layer: errors name the file)."""
    pairs = []
    for record in tqdm(records, desc="reading pairs", unit="pair", disable=not progress):
        ir = ir_to_tensor(read_ir_levels(record.ir_path), record.ir_path)
        vis_rgb = visible_to_tensor(read_visible(record.vis_path), name=record.vis_path)
        if ir.shape[-2:] != vis_rgb.shape[-2:]:
            raise ValueError(
                f"{record.ir_path} is {tuple(ir.shape[-2:])} but {record.vis_path} is "
                f"{tuple(vis_rgb.shape[-2:])} (HxW)"
            )
        pairs.append(LoadedPair(record, ir, vis_rgb, rgb_to_y(vis_rgb)))
    return pairs


class CropStream:
    """Deterministic batches of random ``crop x crop`` patches with paired flips.

    Args:
        pairs: the training pairs; each must be at least ``crop`` pixels on both sides.
        crop: patch side in pixels.
        batch_size: patches per batch.
        seed: the stream's seed.

    ``stream.batch(i)`` returns ``(ir, vis_y)``, each ``[batch_size, 1, crop, crop]`` in [0, 1].
    Both modalities get the same crop window, horizontal flip and vertical flip.
    """

    def __init__(
        self, pairs: Sequence[LoadedPair], crop: int, batch_size: int, seed: int = 0
    ) -> None:
        if not pairs:
            raise ValueError("no training pairs")
        small = [p.record.ir_path for p in pairs if min(p.ir.shape[-2:]) < crop]
        if small:
            raise ValueError(
                f"{len(small)} training pair(s) are smaller than the {crop}px crop, e.g. "
                f"{small[0]}; use a smaller --crop"
            )
        self.pairs = list(pairs)
        self.crop = crop
        self.batch_size = batch_size
        self.seed = seed

    def _sample(self, position: int) -> tuple[torch.Tensor, torch.Tensor]:
        count = len(self.pairs)
        epoch, offset = divmod(position, count)
        order = np.random.default_rng([self.seed, epoch]).permutation(count)
        pair = self.pairs[int(order[offset])]
        rng = np.random.default_rng([self.seed, epoch, offset])
        height, width = pair.ir.shape[-2:]
        top = int(rng.integers(0, height - self.crop + 1))
        left = int(rng.integers(0, width - self.crop + 1))
        flip_h, flip_v = rng.random(2) < 0.5
        window = (..., slice(top, top + self.crop), slice(left, left + self.crop))
        ir, vis = pair.ir[window], pair.vis_y[window]
        dims = [d for d, flip in ((-1, flip_h), (-2, flip_v)) if flip]
        if dims:
            ir, vis = ir.flip(dims), vis.flip(dims)
        return ir, vis

    def batch(self, iteration: int) -> tuple[torch.Tensor, torch.Tensor]:
        """The batch of ``iteration`` (0-based)."""
        start = iteration * self.batch_size
        samples = [self._sample(start + i) for i in range(self.batch_size)]
        return torch.cat([s[0] for s in samples]), torch.cat([s[1] for s in samples])
