"""Small 2-D filters used by the metrics, written as sums of shifted slices.

They reproduce the boundary conventions of the scipy calls in the reference evaluator:

- :func:`box_mean_reflect`: ``scipy.ndimage.uniform_filter(x, size)`` (mode ``"reflect"``,
  i.e. half-sample symmetric ``d c b a | a b c d``), one axis after the other, with the result
  of each axis pass rounded to ``dtype`` as scipy does when it writes into its output array.
- :func:`separable_valid`: ``scipy.signal.convolve2d(x, outer(k, k), mode="valid")`` for a
  symmetric 1-D kernel ``k``.
- :func:`convolve_same_zero`: ``scipy.signal.convolve2d(x, kernel, mode="same")`` (zero fill).
"""

from __future__ import annotations

import numpy as np

__all__ = ["box_mean_reflect", "convolve_same_zero", "separable_valid"]


def _box_mean_axis(x: np.ndarray, size: int, axis: int) -> np.ndarray:
    radius = size // 2
    pad = [(0, 0), (0, 0)]
    pad[axis] = (radius, radius)
    padded = np.pad(x.astype(np.float64), pad, mode="symmetric")
    length = x.shape[axis]
    total = np.zeros(x.shape, dtype=np.float64)
    window = [slice(None), slice(None)]
    for offset in range(size):
        window[axis] = slice(offset, offset + length)
        total += padded[tuple(window)]
    return total / size


def box_mean_reflect(x: np.ndarray, size: int, dtype: type = np.float64) -> np.ndarray:
    """Mean over a ``size`` x ``size`` window centred on each pixel, reflect padding.

    Args:
        x: [H, W] float array.
        size: odd window side.
        dtype: precision of the output and of the intermediate result between the two axis
            passes (float64 sums, rounded to ``dtype`` after each pass, as scipy does).

    Returns:
        [H, W] array of ``dtype``.
    """
    rows = _box_mean_axis(x, size, axis=0).astype(dtype)
    return _box_mean_axis(rows, size, axis=1).astype(dtype)


def separable_valid(x: np.ndarray, kernel_1d: np.ndarray) -> np.ndarray:
    """'valid' 2-D filtering of ``x`` with the separable kernel ``outer(kernel_1d, kernel_1d)``.

    Args:
        x: [H, W] float64 array, H and W at least ``len(kernel_1d)``.
        kernel_1d: [N] symmetric float64 kernel (so convolution equals correlation).

    Returns:
        [H - N + 1, W - N + 1] float64 array.
    """
    n = kernel_1d.shape[0]
    out_h, out_w = x.shape[0] - n + 1, x.shape[1] - n + 1
    rows = np.zeros((out_h, x.shape[1]), dtype=np.float64)
    for k in range(n):
        rows += kernel_1d[k] * x[k : k + out_h, :]
    out = np.zeros((out_h, out_w), dtype=np.float64)
    for k in range(n):
        out += kernel_1d[k] * rows[:, k : k + out_w]
    return out


def convolve_same_zero(x: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    """True 2-D convolution (kernel flipped) with zero fill, output the size of ``x``.

    Args:
        x: [H, W] float64 array.
        kernel: [kh, kw] kernel with odd sides.

    Returns:
        [H, W] float64 array.
    """
    kh, kw = kernel.shape
    rh, rw = kh // 2, kw // 2
    padded = np.pad(x, ((rh, rh), (rw, rw)))
    flipped = kernel[::-1, ::-1]
    h, w = x.shape
    out = np.zeros((h, w), dtype=np.float64)
    for i in range(kh):
        for j in range(kw):
            if flipped[i, j] != 0:
                out += flipped[i, j] * padded[i : i + h, j : j + w]
    return out
