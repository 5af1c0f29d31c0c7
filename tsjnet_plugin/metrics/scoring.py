"""Fusion quality of model outputs: the one scorer both framework evaluators call.

`score_pair` turns a fused image and its two sources into 8-bit gray levels exactly as
``tools/eval_fusion.py`` reads saved images (colour through `read_gray`'s BT.601 luma, rounded
half to even) and scores them with `evaluate_fusion`; `mean_scores` averages per-image scores,
leaving out non-finite values (a constant image makes CC or SCD undefined) so one such image
does not turn a whole validation mean into NaN.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from .evaluate import METRIC_NAMES, evaluate_fusion, mean_scores
from .folders import rgb_luma

__all__ = ["gray_levels", "mean_scores", "score_pair"]


def _array(image: Any) -> np.ndarray:
    """numpy float32 view of an array or a (CPU or GPU, maybe grad-tracking) torch tensor."""
    if hasattr(image, "detach"):
        image = image.detach().float().cpu().numpy()
    return np.asarray(image, dtype=np.float32)


def gray_levels(image: Any) -> np.ndarray:
    """8-bit gray levels of a fused image or source.

    Args:
        image: [H, W] or [1, H, W] gray, or [3, H, W] RGB (channel-first, as the models hold
            them), float or integer values on the 0-255 scale; numpy array or torch tensor.

    Returns:
        [H, W] float64 whole numbers in [0, 255] (RGB reduced by BT.601 luma).
    """
    array = _array(image)
    if array.ndim == 3 and array.shape[0] == 3:
        array = rgb_luma(array[0], array[1], array[2])
    elif array.ndim == 3 and array.shape[0] == 1:
        array = array[0]
    if array.ndim != 2:
        raise ValueError(f"expected an image [H, W], [1, H, W] or [3, H, W], got {array.shape}")
    return np.round(np.clip(array, 0.0, 255.0)).astype(np.float64)


def score_pair(
    fused: Any,
    ir: Any,
    vis: Any,
    metrics: Sequence[str] = METRIC_NAMES,
    **options: Mapping[str, Any],
) -> dict[str, float]:
    """Fusion metrics of one fused image against its sources, all on the 0-255 scale.

    Args:
        fused: the fused luminance, [H, W] or [1, H, W] (or a fused RGB [3, H, W]).
        ir: the infrared image, [H, W] or [1, H, W].
        vis: the visible image, RGB [3, H, W] or its luminance [H, W] / [1, H, W].
        metrics, options: as for `evaluate_fusion`.

    Returns:
        ``{name: value}`` in the order of ``metrics``.
    """
    return evaluate_fusion(
        gray_levels(fused), gray_levels(ir), gray_levels(vis), metrics, **options
    )
