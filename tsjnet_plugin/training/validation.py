"""Validation of a fusion network on held-aside pairs with the project's fusion metrics.

Sources are read as ``tools/eval_fusion.py`` reads them (8-bit gray levels, BT.601 luma for
colour, :func:`tsjnet_plugin.metrics.folders.read_gray`) and the fused luminance is rounded to
8 bits as ``tools/fuse.py`` writes it, so the numbers here equal an ``eval_fusion.py`` run on the
fused PNGs. The per-pixel maximum and mean of the two sources are scored alongside as baselines.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import torch
from PIL import Image

from ..fusion import TSJNet, recolor
from ..fusion.color import to_uint8_image
from ..metrics import evaluate_fusion, mean_scores
from ..metrics.folders import read_gray
from ..visualize import make_grid
from .pairs import LoadedPair

__all__ = [
    "CONTRAST_METRICS",
    "FIDELITY_METRICS",
    "QUALITY_METRICS",
    "VAL_METRICS",
    "FusionValidator",
    "baseline_fusions",
    "fuse",
    "selection_score",
]

VAL_METRICS = ("EN", "SD", "SF", "AG", "MI", "SCD", "VIF", "Qabf", "SSIM")
# The metrics the quality bar compares with the per-pixel max (MI rewards copying a source).
QUALITY_METRICS = ("EN", "SD", "SF", "AG", "SCD", "VIF", "Qabf", "SSIM")
# The two halves of the selection score: how faithfully the fused image carries the sources'
# information and structure, and how much contrast and detail it has. Noise raises the second
# (SF and AG above all) and lowers the first.
FIDELITY_METRICS = ("VIF", "Qabf", "SSIM", "MI")
CONTRAST_METRICS = ("EN", "SD", "SF", "AG", "SCD")


def selection_score(means: Mapping[str, float], reference: Mapping[str, float]) -> float:
    """Model-selection score of metric means against a reference (the per-pixel max).

    ``0.5 * mean(ratio, fidelity) + 0.5 * mean(min(ratio, 1), contrast)``, where ``ratio`` is a
    metric over the reference's value, the fidelity metrics are :data:`FIDELITY_METRICS` and the
    contrast metrics :data:`CONTRAST_METRICS`. Contrast and sharpness earn up to the reference
    and no more, so sharpening past it (which amplified noise does) cannot make up for lost
    fidelity; the reference itself scores 1. Metrics missing from either mapping are left out.
    """
    halves = []
    for names, cap in ((FIDELITY_METRICS, None), (CONTRAST_METRICS, 1.0)):
        ratios = [means[n] / reference[n] for n in names if n in means and n in reference]
        if ratios:
            halves.append(float(np.mean([r if cap is None else min(r, cap) for r in ratios])))
    if not halves:
        raise ValueError(f"no metric of {FIDELITY_METRICS + CONTRAST_METRICS} in both mappings")
    return float(np.mean(halves))


@torch.no_grad()
def fuse(model: TSJNet, pair: LoadedPair, device: torch.device) -> torch.Tensor:
    """Fused luminance ``[1, 1, H, W]`` in (0, 1) on the CPU, the model in eval mode."""
    model.eval()
    return model(pair.ir.to(device), pair.vis_y.to(device)).float().cpu()


def baseline_fusions(ir: np.ndarray, vis: np.ndarray) -> dict[str, np.ndarray]:
    """The per-pixel ``max`` and ``mean`` (rounded) of two ``[H, W]`` 8-bit gray images."""
    return {"max": np.maximum(ir, vis), "mean": np.round((ir + vis) / 2.0)}


class FusionValidator:
    """Scores a fusion network on fixed pairs against the per-pixel max and mean baselines.

    Args:
        pairs: the validation pairs (whole images, any size).
        metrics: names from :data:`tsjnet_plugin.metrics.METRIC_NAMES`.
        grid_pairs: how many pairs the picture shows.
    """

    def __init__(
        self,
        pairs: Sequence[LoadedPair],
        metrics: Sequence[str] = VAL_METRICS,
        grid_pairs: int = 4,
    ) -> None:
        if not pairs:
            raise ValueError("no validation pairs")
        self.pairs = list(pairs)
        self.metrics = tuple(metrics)
        self.grid_pairs = grid_pairs
        self.sources = [
            (read_gray(p.record.ir_path), read_gray(p.record.vis_path)) for p in self.pairs
        ]
        per_method: dict[str, list[dict[str, float]]] = {"max": [], "mean": []}
        for ir, vis in self.sources:
            for method, fused in baseline_fusions(ir, vis).items():
                per_method[method].append(evaluate_fusion(fused, ir, vis, self.metrics))
        self.baselines = {method: mean_scores(rows) for method, rows in per_method.items()}

    def score(self, means: Mapping[str, float]) -> float:
        """Model-selection score: :func:`selection_score` against the per-pixel max."""
        return selection_score(means, self.baselines["max"])

    def beats_max(self, means: Mapping[str, float]) -> list[str]:
        """Quality metrics on which ``means`` is above the per-pixel max baseline."""
        return [n for n in QUALITY_METRICS if n in means and means[n] > self.baselines["max"][n]]

    def __call__(self, model: TSJNet, device: torch.device) -> tuple[dict, Image.Image]:
        """Fuse every pair and score it.

        Returns:
            ``({"metrics": means, "score": float, "beats_max": [...], "per_image": {id: ...}},
            grid)``; the grid shows IR | visible | per-pixel max | fused (gray) | fused (colour)
            for the first pairs.
        """
        per_image: dict[str, dict[str, float]] = {}
        panels: list[tuple[str, np.ndarray]] = []
        for index, (pair, (ir, vis)) in enumerate(zip(self.pairs, self.sources)):
            fused_y = fuse(model, pair, device)
            fused = to_uint8_image(fused_y).astype(np.float64)
            per_image[pair.record.sample_id] = evaluate_fusion(fused, ir, vis, self.metrics)
            if index < self.grid_pairs:
                sample = pair.record.sample_id
                panels += [
                    (f"{sample} IR", to_uint8_image(pair.ir)),
                    (f"{sample} visible", to_uint8_image(pair.vis_rgb)),
                    ("per-pixel max (gray)", np.maximum(ir, vis).astype(np.uint8)),
                    ("fused (gray)", fused.astype(np.uint8)),
                    ("fused (colour)", to_uint8_image(recolor(fused_y, pair.vis_rgb))),
                ]
        means = mean_scores(list(per_image.values()))
        result = {
            "metrics": means,
            "score": self.score(means),
            "beats_max": self.beats_max(means),
            "per_image": per_image,
        }
        return result, make_grid(panels, columns=5)
