"""How an (infrared, visible) pair travels through the OpenMMLab pipelines as one image, and the
names of its modalities (both adapters' dataset metadata).

The packed pair is ``[H, W, 4]`` float32 with channels ``PAIR_CHANNELS`` = (B, G, R, IR), all on
the 0-255 scale: BGR as OpenMMLab expects, so stock geometric transforms move the IR with the
visible image, the boxes and the masks. 16-bit IR keeps its precision (levels / 257, not
rounded). Numpy only.
"""

from __future__ import annotations

import numpy as np

from .records import DatasetError

__all__ = ["MODALITIES", "PAIR_CHANNELS", "pack_pair", "to_levels_255"]

PAIR_CHANNELS = ("B", "G", "R", "IR")
MODALITIES = ("visible", "infrared")
_UINT16_TO_255 = 65535.0 / 255.0  # 257


def to_levels_255(image: np.ndarray, name: str = "image") -> np.ndarray:
    """An image of any reader dtype as float32 on the 0-255 scale, same shape.

    uint8 is taken as it is, uint16 divided by 257, float must lie in [0, 1] and is multiplied
    by 255.

    Raises:
        TypeError: another dtype; ValueError: float values outside [0, 1].
    """
    if image.dtype == np.uint8:
        return image.astype(np.float32)
    if image.dtype == np.uint16:
        return (image.astype(np.float32) / np.float32(_UINT16_TO_255)).astype(np.float32)
    if not np.issubdtype(image.dtype, np.floating):
        raise TypeError(f"{name}: unsupported dtype {image.dtype}; expected uint8, uint16 or float")
    if image.size and (image.min() < 0 or image.max() > 1):
        raise ValueError(
            f"{name}: float values must lie in [0, 1], got [{image.min():.3g}, {image.max():.3g}]"
        )
    return (image.astype(np.float32) * np.float32(255.0)).astype(np.float32)


def pack_pair(
    ir: np.ndarray, vis: np.ndarray, ir_name: str = "infrared", vis_name: str = "visible"
) -> np.ndarray:
    """Stack a pair into the one image the mm pipelines carry.

    Args:
        ir: [H, W] infrared (uint8, uint16 or float in [0, 1]), as `read_ir_levels` gives it.
        vis: [H, W, 3] RGB or [H, W] gray (uint8, uint16 or float in [0, 1]).
        ir_name, vis_name: the sources, for the errors (file paths when read from disk).

    Returns:
        [H, W, 4] float32, channels `PAIR_CHANNELS`, values in [0, 255].

    Raises:
        DatasetError: the two sizes differ or an image has the wrong number of channels.
    """
    if vis.ndim == 2:
        vis = np.repeat(vis[..., None], 3, axis=2)
    if ir.ndim != 2 or vis.ndim != 3 or vis.shape[2] != 3:
        raise DatasetError(
            f"{ir_name}, {vis_name}: expected IR [H, W] and visible [H, W, 3], got "
            f"{ir.shape} and {vis.shape}"
        )
    if ir.shape != vis.shape[:2]:
        raise DatasetError(
            f"{ir_name}: infrared image is {ir.shape[1]}x{ir.shape[0]} (WxH) but its "
            f"visible partner {vis_name} is {vis.shape[1]}x{vis.shape[0]}"
        )
    img = np.empty((*ir.shape, len(PAIR_CHANNELS)), np.float32)
    img[..., :3] = to_levels_255(vis, vis_name)[..., ::-1]
    img[..., 3] = to_levels_255(ir, ir_name)
    return img
