"""ITU-R BT.601 luma weights: the one definition the colour conversions, the readers, the
synthetic data and the fusion metrics use (``Y = 0.299 R + 0.587 G + 0.114 B``, full range as in
JPEG/JFIF; PIL's "L" conversion and OpenCV's ``BGR2GRAY`` use the same weights)."""

from __future__ import annotations

__all__ = ["BT601_LUMA"]

BT601_LUMA = (0.299, 0.587, 0.114)  # weights of (R, G, B)
