"""Intensity statistics: SD, and the source-comparison metrics CC, SCD, MSE and PSNR.

Conventions of the reference evaluator (``Evaluator`` in MMIF-CDDFuse ``utils/Evaluator.py``):
SD is the population standard deviation (``ddof=0``); CC and MSE average their two per-source
values; SCD sums its two correlations; PSNR takes the *fused image's maximum* as the peak and
the averaged MSE as the noise power. Degenerate inputs follow the reference's numpy arithmetic:
a correlation with a constant image is NaN, and PSNR of identical images is ``inf``.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ._checks import as_gray_image, as_image_triplet

__all__ = [
    "correlation_coefficient",
    "correlation_of_differences",
    "mean_squared_error",
    "peak_signal_to_noise_ratio",
    "standard_deviation",
]


def _pearson(x: np.ndarray, y: np.ndarray) -> float:
    """Pearson correlation of two same-shape arrays; NaN if either is constant."""
    dx = x - x.mean()
    dy = y - y.mean()
    with np.errstate(divide="ignore", invalid="ignore"):
        return float(np.sum(dx * dy) / np.sqrt(np.sum(dx * dx) * np.sum(dy * dy)))


def standard_deviation(image: Any) -> float:
    """SD: ``sqrt(mean((F - mean(F))^2))`` (population, ``ddof=0``).

    Args:
        image: [H, W] float or uint8, values in [0, 255].

    Returns:
        SD in [0, 127.5]; 0 for a constant image.
    """
    return float(np.std(as_gray_image(image)))


def correlation_coefficient(fused: Any, ir: Any, vis: Any) -> float:
    """CC: ``(r(IR, F) + r(VIS, F)) / 2`` with ``r`` the Pearson correlation over all pixels.

    Args:
        fused, ir, vis: [H, W] float or uint8, values in [0, 255], same shape.

    Returns:
        CC in [-1, 1]; NaN when any image is constant (0/0, as in the reference).
    """
    fused, ir, vis = as_image_triplet(fused, ir, vis)
    return (_pearson(ir, fused) + _pearson(vis, fused)) / 2


def correlation_of_differences(fused: Any, ir: Any, vis: Any) -> float:
    """SCD, the sum of the correlations of differences (Aslantas & Bendes 2015).

    ``SCD = r(IR, F - VIS) + r(VIS, F - IR)``: what the fused image adds over one source should
    correlate with the other source.

    Args:
        fused, ir, vis: [H, W] float or uint8, values in [0, 255], same shape.

    Returns:
        SCD in [-2, 2]; NaN when a source or a difference image is constant.
    """
    fused, ir, vis = as_image_triplet(fused, ir, vis)
    return _pearson(ir, fused - vis) + _pearson(vis, fused - ir)


def mean_squared_error(fused: Any, ir: Any, vis: Any) -> float:
    """MSE: ``(mean((IR - F)^2) + mean((VIS - F)^2)) / 2``.

    Args:
        fused, ir, vis: [H, W] float or uint8, values in [0, 255], same shape.

    Returns:
        MSE in [0, 255^2].
    """
    fused, ir, vis = as_image_triplet(fused, ir, vis)
    return float((np.mean((ir - fused) ** 2) + np.mean((vis - fused) ** 2)) / 2)


def peak_signal_to_noise_ratio(
    fused: Any, ir: Any, vis: Any, *, peak: float | None = None
) -> float:
    """PSNR in dB: ``10 log10(peak^2 / MSE)`` with MSE from :func:`mean_squared_error`.

    Args:
        fused, ir, vis: [H, W] float or uint8, values in [0, 255], same shape.
        peak: signal peak. ``None`` (reference) uses ``max(F)``, the fused image's maximum;
            pass ``255.0`` for the textbook 8-bit PSNR.

    Returns:
        PSNR in dB; ``inf`` when MSE is 0 (identical images) and the peak is positive, NaN
        when both are 0, ``-inf`` when only the peak is 0 (numpy's arithmetic, as the
        reference).
    """
    if peak is not None and not (math.isfinite(peak) and peak > 0):
        raise ValueError(f"peak must be a positive finite number or None; got {peak=}")
    fused, ir, vis = as_image_triplet(fused, ir, vis)
    mse = np.float64(mean_squared_error(fused, ir, vis))
    top = np.float64(fused.max() if peak is None else peak)
    with np.errstate(divide="ignore", invalid="ignore"):
        return float(10 * np.log10(top**2 / mse))
