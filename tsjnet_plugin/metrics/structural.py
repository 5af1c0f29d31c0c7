"""Structural similarity (SSIM) as the reference evaluator computes it.

The reference (``Evaluator.SSIM`` in MMIF-CDDFuse ``utils/Evaluator.py``) calls
``skimage.metrics.structural_similarity(F, X)`` with default arguments on float32 images read
by ``image_read_cv2``. With scikit-image 0.19 (the version it pins) that means:

- a 7x7 uniform window, ``scipy.ndimage.uniform_filter`` with ``"reflect"`` borders;
- sample covariances (``N / (N - 1)`` with ``N = 49``), ``K1 = 0.01``, ``K2 = 0.03``;
- ``data_range = 2``: skimage guesses the range of a float image from its dtype (``[-1, 1]``),
  although the values are 0-255, so ``C1 = (0.01 * 2)^2`` and ``C2 = (0.03 * 2)^2`` are tiny;
- arithmetic in float32 (skimage keeps float32 inputs in float32);
- the mean of the SSIM map after cropping the 3-pixel border.

Newer scikit-image refuses float images without ``data_range``. The defaults here keep the
reference numbers (``data_range=2.0``, ``precision="float32"``); ``data_range=255.0`` gives the
textbook 8-bit SSIM and ``precision="float64"`` removes float32 rounding.
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np

from ._checks import as_gray_image, as_image_triplet, check_min_size
from ._filters import box_mean_reflect

__all__ = ["ssim_index", "structural_similarity"]

_WINDOW = 7
_K1, _K2 = 0.01, 0.03
_PRECISIONS = {"float32": np.float32, "float64": np.float64}


def _check_options(data_range: float, precision: str) -> type:
    if not data_range > 0:
        raise ValueError(f"data_range must be positive; got {data_range=}")
    if precision not in _PRECISIONS:
        raise ValueError(f"precision must be one of {sorted(_PRECISIONS)}; got {precision!r}")
    return _PRECISIONS[precision]


def _ssim(x: np.ndarray, y: np.ndarray, data_range: float, dtype: type) -> float:
    """Mean SSIM of two checked [H, W] float64 images, computed in ``dtype``."""
    check_min_size(x, _WINDOW, "SSIM", f"{_WINDOW}x{_WINDOW} window")
    x = x.astype(dtype)
    y = y.astype(dtype)
    cov_norm = _WINDOW**2 / (_WINDOW**2 - 1)
    ux = box_mean_reflect(x, _WINDOW, dtype)
    uy = box_mean_reflect(y, _WINDOW, dtype)
    uxx = box_mean_reflect(x * x, _WINDOW, dtype)
    uyy = box_mean_reflect(y * y, _WINDOW, dtype)
    uxy = box_mean_reflect(x * y, _WINDOW, dtype)
    vx = cov_norm * (uxx - ux * ux)
    vy = cov_norm * (uyy - uy * uy)
    vxy = cov_norm * (uxy - ux * uy)
    c1 = (_K1 * data_range) ** 2
    c2 = (_K2 * data_range) ** 2
    numerator = (2 * ux * uy + c1) * (2 * vxy + c2)
    denominator = (ux**2 + uy**2 + c1) * (vx + vy + c2)
    ssim_map = numerator / denominator
    pad = _WINDOW // 2
    return float(ssim_map[pad:-pad, pad:-pad].mean(dtype=np.float64))


def ssim_index(
    a: Any,
    b: Any,
    *,
    data_range: float = 2.0,
    precision: Literal["float32", "float64"] = "float32",
) -> float:
    """Mean SSIM of two images, as ``skimage.metrics.structural_similarity`` (defaults).

    ``SSIM = (2 mu_a mu_b + C1)(2 s_ab + C2) / ((mu_a^2 + mu_b^2 + C1)(s_a^2 + s_b^2 + C2))``
    per 7x7 window, ``C1 = (0.01 R)^2``, ``C2 = (0.03 R)^2``, averaged over the map without
    its 3-pixel border.

    Args:
        a, b: [H, W] float or uint8, values in [0, 255], same shape, H, W >= 7.
        data_range: ``R``. The reference's skimage call uses 2 (its guess for float images);
            255 is the textbook value for 8-bit images.
        precision: ``"float32"`` (reference: images read as float32) or ``"float64"``.

    Returns:
        Mean SSIM in [-1, 1]; exactly 1 for identical images.
    """
    dtype = _check_options(data_range, precision)
    a = as_gray_image(a, "a")
    b = as_gray_image(b, "b")
    if a.shape != b.shape:
        raise ValueError(f"a and b must have the same shape; got a={a.shape}, b={b.shape}")
    return _ssim(a, b, data_range, dtype)


def structural_similarity(
    fused: Any,
    ir: Any,
    vis: Any,
    *,
    data_range: float = 2.0,
    precision: Literal["float32", "float64"] = "float32",
) -> float:
    """SSIM: ``SSIM(F, IR) + SSIM(F, VIS)`` (summed over both sources, as the reference does).

    Args:
        fused, ir, vis: [H, W] float or uint8, values in [0, 255], same shape, H, W >= 7.
        data_range, precision: see :func:`ssim_index`.

    Returns:
        Sum of two mean SSIMs, in [-2, 2]; 2 when both sources equal the fused image.
    """
    dtype = _check_options(data_range, precision)
    fused, ir, vis = as_image_triplet(fused, ir, vis)
    return _ssim(fused, ir, data_range, dtype) + _ssim(fused, vis, data_range, dtype)
