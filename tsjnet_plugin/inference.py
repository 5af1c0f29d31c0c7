"""Fuse image pairs with a trained (or randomly initialised) fusion network.

:class:`FusionPredictor` fuses one pair or a batch of equal-size pairs; :func:`fuse_pairs` fuses
a list of pairs from disk into ``out/gray/<id>.png`` and ``out/color/<id>.png``, batching pairs of
equal size, skipping pairs whose outputs already exist (so an interrupted run resumes), writing
every file atomically and refusing to write over an input.
"""

from __future__ import annotations

import os
import tempfile
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from tqdm import tqdm

from .data import PairRecord, read_ir_levels, read_visible
from .fusion import TSJNet, ir_to_tensor, recolor, rgb_to_y, visible_to_tensor
from .fusion.checkpoint import remove_temp_files
from .fusion.color import ChannelOrder, to_uint8_image
from .precision import amp_dtype

__all__ = [
    "FusedPair",
    "FusionPredictor",
    "fuse_pairs",
    "output_paths",
    "write_png_atomic",
]


@dataclass
class FusedPair:
    """One fused result.

    Attributes:
        gray: ``HxW`` uint8, the fused luminance.
        color: ``HxWx3`` uint8 RGB, the fused luminance with the visible chroma.
    """

    gray: np.ndarray
    color: np.ndarray


class FusionPredictor:
    """Run a fusion network in eval mode on numpy images or tensors.

    Args:
        model: the fusion network (moved to ``device`` and put in eval mode).
        device: where to run; default CUDA when available.
        amp: autocast dtype on CUDA, "float16" or "bfloat16"; None (default) or a CPU device:
            float32.

    Raises:
        ValueError: an unknown ``amp`` dtype.
    """

    def __init__(
        self, model: TSJNet, device: str | torch.device | None = None, amp: str | None = None
    ):
        self.device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
        self.model = model.eval().to(self.device)
        dtype = amp_dtype(amp, "FusionPredictor amp") if amp is not None else None
        self.amp_dtype = dtype if self.device.type == "cuda" else None

    @torch.no_grad()
    def fuse_tensors(
        self, ir: torch.Tensor, vis_rgb: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """``ir [B,1,H,W]``, ``vis_rgb [B,3,H,W]`` in [0, 1] -> ``(fused_y [B,1,H,W], rgb [B,3,H,W])``."""
        ir, vis_rgb = ir.to(self.device), vis_rgb.to(self.device)
        with torch.autocast("cuda", dtype=self.amp_dtype, enabled=self.amp_dtype is not None):
            fused = self.model(ir, rgb_to_y(vis_rgb)).float()
        return fused, recolor(fused, vis_rgb)

    def __call__(
        self, ir: np.ndarray, vis: np.ndarray, channel_order: ChannelOrder = "RGB"
    ) -> FusedPair:
        """Fuse one pair: ``ir`` ``HxW`` (8/16-bit or float in [0, 1]), ``vis`` ``HxWx3``."""
        ir_t = ir_to_tensor(ir)
        vis_t = visible_to_tensor(vis, channel_order)
        if ir_t.shape[-2:] != vis_t.shape[-2:]:
            raise ValueError(
                f"infrared {tuple(ir_t.shape[-2:])} and visible {tuple(vis_t.shape[-2:])} sizes differ"
            )
        fused, rgb = self.fuse_tensors(ir_t, vis_t)
        return FusedPair(to_uint8_image(fused), to_uint8_image(rgb))


def write_png_atomic(image: np.ndarray, path: Path) -> None:
    """Write a PNG through a temporary file in the same folder and rename it into place."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=".png", dir=path.parent)
    os.close(fd)
    try:
        Image.fromarray(image).save(tmp, format="PNG")
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def remove_partial_outputs(out_dir: str | os.PathLike) -> list[Path]:
    """Delete the temporary PNGs (``.<id>.<random>.png``) that an interrupted
    :func:`fuse_pairs` left in ``out_dir/{gray,color}``; returns what it removed."""
    out_dir = Path(out_dir)
    return [p for sub in ("gray", "color") for p in remove_temp_files(out_dir / sub, ".png")]


def output_paths(out_dir: Path, sample_id: str) -> tuple[Path, Path]:
    """``(gray, color)`` PNG paths of one sample."""
    return out_dir / "gray" / f"{sample_id}.png", out_dir / "color" / f"{sample_id}.png"


def _batches(records: Sequence[PairRecord], batch_size: int) -> Iterable[list[PairRecord]]:
    """Batches of records with equal image size (pairs of different sizes cannot be stacked)."""
    by_size: dict[tuple[int, int], list[PairRecord]] = defaultdict(list)
    for record in records:
        by_size[(record.height, record.width)].append(record)
    for group in by_size.values():
        for start in range(0, len(group), batch_size):
            yield group[start : start + batch_size]


def check_outputs_are_not_inputs(records: Sequence[PairRecord], out_dir: str | os.PathLike) -> None:
    """Raise ValueError if an output path of ``records`` in ``out_dir`` is one of their inputs."""
    inputs = {Path(p).resolve() for r in records for p in (r.ir_path, r.vis_path)}
    for record in records:
        for path in output_paths(Path(out_dir), record.sample_id):
            if path.resolve() in inputs:
                raise ValueError(f"refusing to overwrite input image {path}; choose another --out")


def fuse_pairs(
    predictor: FusionPredictor,
    records: Sequence[PairRecord],
    out_dir: str | os.PathLike,
    batch_size: int = 1,
    overwrite: bool = False,
    progress: bool = True,
) -> list[str]:
    """Fuse ``records`` into ``out_dir/{gray,color}/<sample_id>.png``.

    Pairs whose two outputs exist are skipped unless ``overwrite``. Returns the ids fused now.

    Raises:
        ValueError: an output path would be one of the input files.
    """
    out_dir = Path(out_dir)
    check_outputs_are_not_inputs(records, out_dir)
    todo = [
        r
        for r in records
        if overwrite or not all(p.exists() for p in output_paths(out_dir, r.sample_id))
    ]
    done: list[str] = []
    bar = tqdm(total=len(todo), desc="fusing", unit="pair", disable=not progress)
    for batch in _batches(todo, batch_size):
        ir = torch.cat([ir_to_tensor(read_ir_levels(r.ir_path), r.ir_path) for r in batch])
        vis = torch.cat(
            [visible_to_tensor(read_visible(r.vis_path), name=r.vis_path) for r in batch]
        )
        fused, rgb = predictor.fuse_tensors(ir, vis)
        for i, record in enumerate(batch):
            gray_path, color_path = output_paths(out_dir, record.sample_id)
            write_png_atomic(to_uint8_image(fused[i]), gray_path)
            write_png_atomic(to_uint8_image(rgb[i]), color_path)
            done.append(record.sample_id)
        bar.update(len(batch))
    bar.close()
    return done
