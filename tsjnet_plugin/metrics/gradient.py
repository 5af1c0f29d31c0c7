"""Gradient metrics: spatial frequency (SF), average gradient (AG) and edge preservation (Qabf).

Conventions of the reference evaluator (``Evaluator`` in MMIF-CDDFuse ``utils/Evaluator.py``):

- SF averages each squared difference over the differences that exist (``H x (W-1)`` and
  ``(H-1) x W``), not over ``H x W``.
- AG uses central differences inside and one-sided differences at the border (``np.gradient``
  / MATLAB ``gradient``), averaged over all ``H x W`` pixels. The textbook formula uses forward
  differences over ``(H-1) x (W-1)`` pixels: ``difference="forward"``.
- Qabf (Xydeas & Petrovic 2000) uses 3x3 Sobel filters with zero padding, ``L = 1`` and the
  sigmoid constants ``Tg=0.9994, kg=-15, Dg=0.5, Ta=0.9879, ka=-22, Da=0.8``. Where a source
  and the fused image have the same gradient strength, the reference sets the strength ratio to
  the fused strength itself instead of 1 (``gradient_ratio="reference"``); the paper's ratio
  ``min/max`` is ``gradient_ratio="paper"``.
"""

from __future__ import annotations

import math
from typing import Any, Literal

import numpy as np

from ._checks import as_gray_image, as_image_triplet
from ._filters import convolve_same_zero

__all__ = ["average_gradient", "edge_preservation", "spatial_frequency"]

_SOBEL_ROWS = np.array([[1, 2, 1], [0, 0, 0], [-1, -2, -1]], dtype=np.float64)
_SOBEL_COLUMNS = np.array([[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]], dtype=np.float64)
# Sigmoid constants of Q^{AB/F}: strength (g) and orientation (a) preservation.
_TG, _KG, _DG = 0.9994, -15.0, 0.5
_TA, _KA, _DA = 0.9879, -22.0, 0.8


def spatial_frequency(image: Any) -> float:
    """SF: ``sqrt(RF^2 + CF^2)``.

    ``RF^2 = mean((F[i, j] - F[i, j-1])^2)`` over ``H x (W-1)`` horizontal differences and
    ``CF^2 = mean((F[i, j] - F[i-1, j])^2)`` over ``(H-1) x W`` vertical ones.

    Args:
        image: [H, W] float or uint8, values in [0, 255].

    Returns:
        SF >= 0; 0 for a constant image.
    """
    f = as_gray_image(image)
    row_frequency = np.mean((f[:, 1:] - f[:, :-1]) ** 2)
    column_frequency = np.mean((f[1:, :] - f[:-1, :]) ** 2)
    return float(np.sqrt(row_frequency + column_frequency))


def average_gradient(image: Any, *, difference: Literal["central", "forward"] = "central") -> float:
    """AG: ``mean(sqrt((Gx^2 + Gy^2) / 2))``.

    Args:
        image: [H, W] float or uint8, values in [0, 255].
        difference: ``"central"`` (reference): ``Gx, Gy = np.gradient``-style differences
            (central inside, one-sided at the border), averaged over ``H x W`` pixels.
            ``"forward"`` (textbook): ``Gx = F[i, j+1] - F[i, j]``, ``Gy = F[i+1, j] - F[i, j]``
            averaged over the ``(H-1) x (W-1)`` pixels where both exist.

    Returns:
        AG >= 0; 0 for a constant image.
    """
    f = as_gray_image(image)
    if difference == "central":
        gy, gx = np.gradient(f)
    elif difference == "forward":
        gx = f[:-1, 1:] - f[:-1, :-1]
        gy = f[1:, :-1] - f[:-1, :-1]
    else:
        raise ValueError(f"difference must be 'central' or 'forward'; got {difference!r}")
    return float(np.mean(np.sqrt((gx**2 + gy**2) / 2)))


def _sobel_strength_and_angle(image: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """[H, W] Sobel strength ``g >= 0`` and orientation ``atan(Sy / Sx)`` in [-pi/2, pi/2]."""
    sx = convolve_same_zero(image, _SOBEL_COLUMNS)
    sy = convolve_same_zero(image, _SOBEL_ROWS)
    strength = np.sqrt(sx * sx + sy * sy)
    vertical = sx == 0
    angle = np.arctan(sy / np.where(vertical, 1.0, sx))
    angle[vertical] = math.pi / 2
    return strength, angle


def _preservation(
    g_src: np.ndarray,
    a_src: np.ndarray,
    g_fused: np.ndarray,
    a_fused: np.ndarray,
    gradient_ratio: str,
) -> np.ndarray:
    """[H, W] edge preservation ``Q^{XF} = Q_g Q_a`` in [0, Tg * Ta] of one source X."""
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(g_src > g_fused, g_fused / g_src, g_src / g_fused)
    equal = g_src == g_fused
    ratio[equal] = g_fused[equal] if gradient_ratio == "reference" else 1.0
    alignment = 1 - np.abs(a_src - a_fused) / (math.pi / 2)
    q_strength = _TG / (1 + np.exp(_KG * (ratio - _DG)))
    q_angle = _TA / (1 + np.exp(_KA * (alignment - _DA)))
    return q_strength * q_angle


def edge_preservation(
    fused: Any,
    ir: Any,
    vis: Any,
    *,
    gradient_ratio: Literal["reference", "paper"] = "reference",
) -> float:
    """Qabf: gradient-based edge preservation ``Q^{AB/F}`` (Xydeas & Petrovic 2000).

    ``Qabf = sum(Q^{AF} g_A + Q^{BF} g_B) / sum(g_A + g_B)`` with Sobel strengths ``g`` as
    weights (``L = 1``), and ``Q^{XF} = Q_g Q_a``:
    ``Q_g = Tg / (1 + exp(kg (G^{XF} - Dg)))``, ``G^{XF} = min(g_X, g_F) / max(g_X, g_F)``;
    ``Q_a = Ta / (1 + exp(ka (A^{XF} - Da)))``, ``A^{XF} = 1 - |a_X - a_F| / (pi / 2)``.

    Args:
        fused, ir, vis: [H, W] float or uint8, values in [0, 255], same shape.
        gradient_ratio: ``"reference"`` sets ``G^{XF} = g_F`` where ``g_X == g_F`` (the
            reference's quirk; it slightly raises Qabf); ``"paper"`` sets it to 1 there.

    Returns:
        Qabf in [0, Tg * Ta]; NaN when neither source has any Sobel response (all-zero
        images). Zero padding makes the border of a constant non-zero image an edge.
    """
    if gradient_ratio not in ("reference", "paper"):
        raise ValueError(f"gradient_ratio must be 'reference' or 'paper'; got {gradient_ratio!r}")
    fused, ir, vis = as_image_triplet(fused, ir, vis)
    g_f, a_f = _sobel_strength_and_angle(fused)
    g_ir, a_ir = _sobel_strength_and_angle(ir)
    g_vis, a_vis = _sobel_strength_and_angle(vis)
    q_ir = _preservation(g_ir, a_ir, g_f, a_f, gradient_ratio)
    q_vis = _preservation(g_vis, a_vis, g_f, a_f, gradient_ratio)
    with np.errstate(divide="ignore", invalid="ignore"):
        return float(np.sum(q_ir * g_ir + q_vis * g_vis) / np.sum(g_ir + g_vis))
