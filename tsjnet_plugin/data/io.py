"""Reading IR, visible and segmentation-label images with validation (PIL only, no cv2).

Every failure raises `DatasetError` (a `ValueError`) naming the file and the problem: a missing
file, a file PIL cannot identify, a truncated file, an unsupported pixel mode or out-of-range
label values.
"""

from __future__ import annotations

import os
import warnings

import numpy as np
from PIL import Image, UnidentifiedImageError

from ..bt601 import BT601_LUMA
from .records import DatasetError

__all__ = ["read_image_size", "read_ir", "read_ir_levels", "read_seg_label", "read_visible"]

PathLike = str | os.PathLike[str]

_GREY_8BIT = ("L", "LA", "1", "P")
_GREY_16BIT = ("I;16", "I;16L", "I;16B", "I")
_COLOUR = ("RGB", "RGBA", "RGBX")
_BT601 = np.array(BT601_LUMA, dtype=np.float32)


def read_image_size(path: PathLike) -> tuple[int, int]:
    """Read an image's size from its header only, without decoding the pixels.

    Returns:
        (H, W) in pixels.
    """
    try:
        with Image.open(path) as image:
            width, height = image.size
    except FileNotFoundError:
        raise DatasetError(f"{path}: file does not exist") from None
    except (UnidentifiedImageError, OSError) as error:
        raise DatasetError(f"{path}: not a readable image ({error})") from None
    return height, width


def read_ir_levels(path: PathLike) -> np.ndarray:
    """Read an infrared image at its native bit depth.

    Accepts 8-bit grey, 16-bit grey and 3-channel images; the latter are converted to 8-bit
    grey with BT.601 luma (rounded) and a warning naming the file.

    Returns:
        [H, W] uint8 (8-bit and colour files) or uint16 (16-bit files).
    """
    with _open_decoded(path) as image:
        mode = image.mode
        if mode in _GREY_16BIT:
            pixels = np.asarray(image)
            if pixels.min() < 0 or pixels.max() > 65535:
                raise DatasetError(
                    f"{path}: IR values span [{pixels.min()}, {pixels.max()}], expected a 16-bit "
                    "range [0, 65535]"
                )
            return pixels.astype(np.uint16)
        if mode in _GREY_8BIT:
            return np.asarray(image.convert("L"), dtype=np.uint8)
        if mode in _COLOUR:
            warnings.warn(
                f"{path}: IR image has mode {mode}; converted to grey with BT.601 luma",
                stacklevel=2,
            )
            rgb = np.asarray(image.convert("RGB"), dtype=np.float32)
            return np.round(np.clip(rgb @ _BT601, 0.0, 255.0)).astype(np.uint8)
    raise DatasetError(f"{path}: unsupported IR pixel mode {mode!r}; expected 8/16-bit grey or RGB")


def read_ir(path: PathLike) -> np.ndarray:
    """Read an infrared image as grey intensities in [0, 1]: `read_ir_levels` divided by 255
    (8-bit) or 65535 (16-bit).

    Returns:
        [H, W] float32 in [0, 1].
    """
    levels = read_ir_levels(path)
    return (levels.astype(np.float32) / np.float32(np.iinfo(levels.dtype).max)).astype(np.float32)


def read_visible(path: PathLike) -> np.ndarray:
    """Read a visible image as RGB; an 8-bit grey image is replicated to three channels.

    Returns:
        [H, W, 3] uint8 RGB.
    """
    with _open_decoded(path) as image:
        mode = image.mode
        if mode in _COLOUR or mode in _GREY_8BIT:
            return np.asarray(image.convert("RGB"), dtype=np.uint8)
    raise DatasetError(
        f"{path}: unsupported visible pixel mode {mode!r}; expected 8-bit RGB or 8-bit grey"
    )


def read_seg_label(path: PathLike, num_classes: int, ignore_label: int = 255) -> np.ndarray:
    """Read a segmentation label from an 8-bit index PNG (grey or palette).

    Values are taken as they are with `np.array` (the official code's `ToTensor` divides them
    by 255, which collapses every class to 0).

    Args:
        path: the label file.
        num_classes: S; valid values are 0..S-1 and `ignore_label`.
        ignore_label: the value of unlabelled pixels.

    Returns:
        [H, W] int64 with values in [0, S) or equal to `ignore_label`.
    """
    with _open_decoded(path) as image:
        if image.mode not in ("L", "P"):
            raise DatasetError(
                f"{path}: segmentation label has mode {image.mode!r}; expected an 8-bit "
                "single-channel index image (mode L or P)"
            )
        labels = np.array(image, dtype=np.int64)
    bad = np.unique(labels[(labels >= num_classes) & (labels != ignore_label)])
    if bad.size:
        raise DatasetError(
            f"{path}: segmentation values {bad.tolist()[:10]} are outside the allowed range "
            f"0..{num_classes - 1} (or {ignore_label} for ignore)"
        )
    return labels


def _open_decoded(path: PathLike) -> Image.Image:
    """Open `path` and decode all its pixels, so truncation is detected here."""
    try:
        image = Image.open(path)
    except FileNotFoundError:
        raise DatasetError(f"{path}: file does not exist") from None
    except (UnidentifiedImageError, OSError) as error:
        raise DatasetError(f"{path}: not a readable image ({error})") from None
    try:
        image.load()
    except (OSError, SyntaxError) as error:
        image.close()
        raise DatasetError(f"{path}: truncated or corrupt image ({error})") from None
    return image
