"""Colour handling: BT.601 full-range (JFIF) RGB <-> YCbCr and input normalisation.

TSJNet fuses single-channel images: the infrared image and the luminance Y of the visible image.
The fused Y is re-coloured with the visible Cb/Cr. The official training fed the visible *red*
channel instead of Y, and its re-colouring swapped R and B; both are fixed here (see
``docs/deviations.md``).

Tensors are ``[B, C, H, W]`` float in [0, 1]; Cb and Cr carry the usual +0.5 offset.
"""

from __future__ import annotations

import warnings
from typing import Literal

import numpy as np
import torch

from ..bt601 import BT601_LUMA

__all__ = [
    "ChannelOrder",
    "ir_to_tensor",
    "recolor",
    "rgb_to_y",
    "rgb_to_ycbcr",
    "stretch_to_full_range",
    "to_uint8_image",
    "to_unit_range",
    "visible_to_tensor",
    "ycbcr_to_rgb",
]

ChannelOrder = Literal["RGB", "BGR"]

# Rows: Y, Cb, Cr; columns: R, G, B (ITU-R BT.601, full range as in JPEG/JFIF).
RGB_TO_YCBCR = (
    BT601_LUMA,
    (-0.168735892, -0.331264108, 0.5),
    (0.5, -0.418687589, -0.081312411),
)
YCBCR_TO_RGB = (
    (1.0, 0.0, 1.402),
    (1.0, -0.344136286, -0.714136286),
    (1.0, 1.772, 0.0),
)
CHROMA_OFFSET = 0.5


def _check_rgb(x: torch.Tensor, name: str) -> None:
    if x.ndim != 4 or x.shape[1] != 3:
        raise ValueError(f"{name} must be [B, 3, H, W], got {tuple(x.shape)}")


def rgb_to_ycbcr(rgb: torch.Tensor) -> torch.Tensor:
    """``[B, 3, H, W]`` RGB in [0, 1] -> ``[B, 3, H, W]`` YCbCr in [0, 1] (Cb/Cr offset 0.5)."""
    _check_rgb(rgb, "rgb")
    matrix = torch.tensor(RGB_TO_YCBCR, dtype=rgb.dtype, device=rgb.device)
    ycbcr = torch.einsum("oc,bchw->bohw", matrix, rgb)
    offset = torch.tensor((0.0, CHROMA_OFFSET, CHROMA_OFFSET), dtype=rgb.dtype, device=rgb.device)
    return ycbcr + offset[None, :, None, None]


def ycbcr_to_rgb(ycbcr: torch.Tensor, clip: bool = True) -> torch.Tensor:
    """Inverse of :func:`rgb_to_ycbcr`; clipped to [0, 1] unless ``clip=False``."""
    _check_rgb(ycbcr, "ycbcr")
    offset = torch.tensor(
        (0.0, CHROMA_OFFSET, CHROMA_OFFSET), dtype=ycbcr.dtype, device=ycbcr.device
    )
    matrix = torch.tensor(YCBCR_TO_RGB, dtype=ycbcr.dtype, device=ycbcr.device)
    rgb = torch.einsum("oc,bchw->bohw", matrix, ycbcr - offset[None, :, None, None])
    return rgb.clamp(0.0, 1.0) if clip else rgb


def rgb_to_y(rgb: torch.Tensor) -> torch.Tensor:
    """BT.601 luma: ``[B, 3, H, W]`` RGB in [0, 1] -> ``[B, 1, H, W]`` in [0, 1]."""
    return rgb_to_ycbcr(rgb)[:, :1]


def recolor(fused_y: torch.Tensor, vis_rgb: torch.Tensor) -> torch.Tensor:
    """Colour a fused luminance with the visible image's chroma.

    Args:
        fused_y: ``[B, 1, H, W]`` in [0, 1].
        vis_rgb: ``[B, 3, H, W]`` RGB in [0, 1].

    Returns:
        ``[B, 3, H, W]`` RGB in [0, 1] (clipped); differentiable in ``fused_y``.
    """
    if fused_y.ndim != 4 or fused_y.shape[1] != 1:
        raise ValueError(f"fused_y must be [B, 1, H, W], got {tuple(fused_y.shape)}")
    chroma = rgb_to_ycbcr(vis_rgb)[:, 1:]
    if chroma.shape[-2:] != fused_y.shape[-2:] or chroma.shape[0] != fused_y.shape[0]:
        raise ValueError(
            f"fused_y {tuple(fused_y.shape)} and vis_rgb {tuple(vis_rgb.shape)} differ"
        )
    return ycbcr_to_rgb(torch.cat([fused_y, chroma.to(fused_y.dtype)], dim=1))


def stretch_to_full_range(fused_y: torch.Tensor) -> torch.Tensor:
    """Min-max stretch each image of ``[B, 1, H, W]`` to [0, 1], as CDDFuse and SeAFusion save
    their outputs; a constant image is returned unchanged."""
    low = fused_y.amin(dim=(-2, -1), keepdim=True)
    span = fused_y.amax(dim=(-2, -1), keepdim=True) - low
    return torch.where(span > 0, (fused_y - low) / span.clamp_min(1e-12), fused_y)


def to_unit_range(image: np.ndarray | torch.Tensor, name: str = "image") -> torch.Tensor:
    """Convert an image to a float32 tensor in [0, 1], keeping its shape.

    ``uint8`` is divided by 255, ``uint16`` by 65535; float input must already lie in [0, 1].
    """
    if isinstance(image, np.ndarray):
        if image.dtype == np.uint16:
            return torch.from_numpy(image.astype(np.float32) / 65535.0)
        writable = image.flags.writeable and image.flags.c_contiguous
        image = torch.from_numpy(image if writable else np.array(image, order="C"))
    tensor = image
    if tensor.dtype == torch.uint8:
        return tensor.float() / 255.0
    if tensor.dtype == torch.uint16:
        return tensor.to(torch.int32).float() / 65535.0
    if not tensor.is_floating_point():
        raise TypeError(
            f"{name}: unsupported dtype {tensor.dtype}; expected uint8, uint16 or float"
        )
    tensor = tensor.float()
    if tensor.numel() and (tensor.min() < 0 or tensor.max() > 1):
        raise ValueError(
            f"{name}: float values must lie in [0, 1], got [{tensor.min():.3g}, {tensor.max():.3g}]"
        )
    return tensor


def ir_to_tensor(ir: np.ndarray | torch.Tensor, name: str = "ir") -> torch.Tensor:
    """An infrared image ``HxW``, ``HxWx1`` or ``HxWx3`` (8/16-bit or float) -> ``[1, 1, H, W]``.

    3-channel IR is converted to gray with BT.601 weights, with a warning.
    """
    tensor = to_unit_range(ir, name)
    if tensor.ndim == 3 and tensor.shape[-1] == 1:
        tensor = tensor[..., 0]
    if tensor.ndim == 3 and tensor.shape[-1] == 3:
        warnings.warn(f"{name}: 3-channel infrared image converted to gray (BT.601)", stacklevel=2)
        tensor = rgb_to_y(tensor.permute(2, 0, 1)[None])[0, 0]
    if tensor.ndim != 2:
        raise ValueError(
            f"{name}: expected an HxW or HxWx3 infrared image, got shape {tuple(tensor.shape)}"
        )
    return tensor[None, None]


def visible_to_tensor(
    vis: np.ndarray | torch.Tensor, channel_order: ChannelOrder = "RGB", name: str = "visible"
) -> torch.Tensor:
    """A visible image ``HxWx3`` (``channel_order``) or gray ``HxW`` -> RGB ``[1, 3, H, W]`` in [0, 1]."""
    if channel_order not in ("RGB", "BGR"):
        raise ValueError(f"channel_order must be 'RGB' or 'BGR', got {channel_order!r}")
    tensor = to_unit_range(vis, name)
    if tensor.ndim == 2:
        tensor = tensor[..., None].expand(-1, -1, 3)
    if tensor.ndim != 3 or tensor.shape[-1] != 3:
        raise ValueError(
            f"{name}: expected an HxWx3 or HxW visible image, got shape {tuple(tensor.shape)}"
        )
    if channel_order == "BGR":
        tensor = tensor.flip(-1)
    return tensor.permute(2, 0, 1)[None].contiguous()


def to_uint8_image(image: torch.Tensor) -> np.ndarray:
    """``[1, C, H, W]`` or ``[C, H, W]`` in [0, 1] -> ``HxW`` (C = 1) or ``HxWxC`` uint8, rounded."""
    if image.ndim == 4:
        image = image[0]
    array = (image.detach().float().clamp(0, 1) * 255.0).round().to(torch.uint8).cpu().numpy()
    return array[0] if array.shape[0] == 1 else array.transpose(1, 2, 0)
