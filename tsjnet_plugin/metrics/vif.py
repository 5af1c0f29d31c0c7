"""Visual information fidelity (VIF), multi-scale pixel-domain version (VIFp).

After Sheikh & Bovik, "Image information and visual quality" (IEEE TIP 2006), in the
pixel-domain form of their MATLAB ``vifvec``/``vifp_mscale`` that the reference evaluator
(``Evaluator.VIFF`` in MMIF-CDDFuse ``utils/Evaluator.py``) ports:

- 4 scales; at scale ``s = 1..4`` a Gaussian window of side ``N = 2^(5-s) + 1`` (17, 9, 5, 3)
  and standard deviation ``N / 5``, normalised to sum 1; 'valid' filtering throughout;
- before scales 2-4 both images are filtered with that scale's window and decimated by 2;
- local statistics ``mu``, ``sigma^2``, ``sigma_12`` from the window, negative variances set to
  0; gain ``g = sigma_12 / (sigma_ref^2 + eps)``, noise ``sv^2 = sigma_dist^2 - g sigma_12``,
  with the MATLAB fix-ups for flat windows and negative gains, ``eps = 1e-10``;
- ``VIFp = sum_s sum log10(1 + g^2 sigma_ref^2 / (sv^2 + sigma_n^2))
  / sum_s sum log10(1 + sigma_ref^2 / sigma_n^2)`` with ``sigma_n^2 = 2``; NaN becomes 1.

The fusion VIF is ``VIFp(IR, F) + VIFp(VIS, F)`` (source as reference, fused as distorted).
The Gaussian window never drops below MATLAB's ``eps * max`` cut-off at these sizes, so it is
applied as two 1-D passes.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ._checks import as_gray_image, as_image_triplet, check_min_size
from ._filters import separable_valid

__all__ = ["MIN_VIF_SIZE", "vifp", "visual_information_fidelity"]

_SCALES = 4
_SIGMA_NSQ = 2.0
_EPS = 1e-10
# Smallest side for which every 'valid' filter of the 4-scale pyramid has output.
MIN_VIF_SIZE = 41


def _gaussian_1d(scale: int) -> np.ndarray:
    """[N] Gaussian factor of scale ``scale``; its outer square sums to 1."""
    size = 2 ** (_SCALES - scale + 1) + 1
    x = np.arange(size, dtype=np.float64) - (size - 1) / 2
    g = np.exp(-(x * x) / (2 * (size / 5.0) ** 2))
    return g / g.sum()


def _scale_terms(ref: np.ndarray, dist: np.ndarray, kernel: np.ndarray) -> tuple[float, float]:
    """Numerator and denominator sums of one scale."""
    mu1 = separable_valid(ref, kernel)
    mu2 = separable_valid(dist, kernel)
    sigma1_sq = np.maximum(separable_valid(ref * ref, kernel) - mu1 * mu1, 0.0)
    sigma2_sq = np.maximum(separable_valid(dist * dist, kernel) - mu2 * mu2, 0.0)
    sigma12 = separable_valid(ref * dist, kernel) - mu1 * mu2

    g = sigma12 / (sigma1_sq + _EPS)
    sv_sq = sigma2_sq - g * sigma12
    flat_ref = sigma1_sq < _EPS
    g[flat_ref] = 0.0
    sv_sq[flat_ref] = sigma2_sq[flat_ref]
    sigma1_sq[flat_ref] = 0.0
    flat_dist = sigma2_sq < _EPS
    g[flat_dist] = 0.0
    sv_sq[flat_dist] = 0.0
    negative_gain = g < 0
    sv_sq[negative_gain] = sigma2_sq[negative_gain]
    g[negative_gain] = 0.0
    sv_sq = np.maximum(sv_sq, _EPS)

    numerator = np.sum(np.log10(1 + g * g * sigma1_sq / (sv_sq + _SIGMA_NSQ)))
    denominator = np.sum(np.log10(1 + sigma1_sq / _SIGMA_NSQ))
    return float(numerator), float(denominator)


def _vifp(ref: np.ndarray, dist: np.ndarray) -> float:
    check_min_size(ref, MIN_VIF_SIZE, "VIF", "4-scale pyramid with 17/9/5/3 windows")
    numerator = denominator = 0.0
    for scale in range(1, _SCALES + 1):
        kernel = _gaussian_1d(scale)
        if scale > 1:
            ref = separable_valid(ref, kernel)[::2, ::2]
            dist = separable_valid(dist, kernel)[::2, ::2]
        num, den = _scale_terms(ref, dist, kernel)
        numerator += num
        denominator += den
    with np.errstate(divide="ignore", invalid="ignore"):
        value = np.float64(numerator) / np.float64(denominator)
    return 1.0 if np.isnan(value) else float(value)


def vifp(ref: Any, dist: Any) -> float:
    """Multi-scale pixel-domain VIF of a distorted image against a reference image.

    Args:
        ref: [H, W] float or uint8, values in [0, 255], H, W >= 41.
        dist: [H, W], same shape.

    Returns:
        VIFp >= 0 (1 for ``dist == ref`` with texture; above 1 when ``dist`` has stronger
        contrast); 1 when undefined (0/0, e.g. both images constant), as the reference.
    """
    ref = as_gray_image(ref, "ref")
    dist = as_gray_image(dist, "dist")
    if ref.shape != dist.shape:
        raise ValueError(f"ref and dist must have the same shape; got {ref.shape}, {dist.shape}")
    return _vifp(ref, dist)


def visual_information_fidelity(fused: Any, ir: Any, vis: Any) -> float:
    """VIF: ``VIFp(IR, F) + VIFp(VIS, F)`` (summed over both sources, as the reference does).

    Args:
        fused, ir, vis: [H, W] float or uint8, values in [0, 255], same shape, H, W >= 41.

    Returns:
        Sum of two VIFp values, >= 0; 2 when both sources equal the fused image.
    """
    fused, ir, vis = as_image_triplet(fused, ir, vis)
    return _vifp(ir, fused) + _vifp(vis, fused)
