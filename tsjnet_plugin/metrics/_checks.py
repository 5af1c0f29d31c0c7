"""Input checks shared by the fusion metrics.

Every metric takes 8-bit grayscale images: 2-D ``[H, W]`` arrays (numpy, or anything
``np.asarray`` accepts, including CPU torch tensors) of float or integer dtype with values in
``[0, 255]``. The checks return float64 copies so that the metrics never see other dtypes.
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["as_gray_image", "as_image_triplet", "check_min_size"]


def _to_numpy(image: Any) -> np.ndarray:
    if hasattr(image, "detach"):  # torch.Tensor, without importing torch here
        image = image.detach().cpu().numpy()
    return np.asarray(image)


def as_gray_image(image: Any, name: str = "image") -> np.ndarray:
    """Check one grayscale image and return it as float64.

    Args:
        image: [H, W] float or integer array with values in [0, 255], H, W >= 2.
        name: what to call the image in error messages.

    Returns:
        [H, W] float64 array, same values.

    Raises:
        TypeError: the dtype is not real-valued numeric (bool, complex, object, ...).
        ValueError: not 2-D, smaller than 2x2, non-finite values, or values outside [0, 255].
    """
    array = _to_numpy(image)
    if array.dtype == np.bool_ or not (
        np.issubdtype(array.dtype, np.integer) or np.issubdtype(array.dtype, np.floating)
    ):
        raise TypeError(f"{name} must be a float or integer array; got dtype {array.dtype}")
    if array.ndim != 2:
        raise ValueError(
            f"{name} must be a 2-D [H, W] grayscale image; got shape {tuple(array.shape)}"
        )
    if min(array.shape) < 2:
        raise ValueError(f"{name} must be at least 2x2; got shape {tuple(array.shape)}")
    array = array.astype(np.float64)
    if not np.isfinite(array).all():
        raise ValueError(f"{name} contains NaN or infinite values")
    low, high = float(array.min()), float(array.max())
    if low < 0.0 or high > 255.0:
        raise ValueError(
            f"{name} values must lie in [0, 255] (8-bit gray levels); got min={low}, max={high}"
        )
    return array


def as_image_triplet(fused: Any, ir: Any, vis: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Check a fused image and its two sources; return them as float64 ``[H, W]`` arrays.

    Raises:
        ValueError: any check of :func:`as_gray_image` fails, or the three shapes differ.
    """
    fused_a = as_gray_image(fused, "fused")
    ir_a = as_gray_image(ir, "ir")
    vis_a = as_gray_image(vis, "vis")
    if not fused_a.shape == ir_a.shape == vis_a.shape:
        raise ValueError(
            "fused, ir and vis must have the same [H, W] shape; got "
            f"fused={fused_a.shape}, ir={ir_a.shape}, vis={vis_a.shape}"
        )
    return fused_a, ir_a, vis_a


def check_min_size(image: np.ndarray, min_size: int, metric: str, why: str) -> None:
    """Raise ValueError if ``image`` is smaller than ``min_size`` in either dimension."""
    if min(image.shape) < min_size:
        raise ValueError(
            f"{metric} needs images of at least {min_size}x{min_size} ({why}); "
            f"got shape {image.shape}"
        )
