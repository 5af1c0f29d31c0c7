"""Information-theory metrics: entropy (EN) and mutual information (MI).

Conventions of the reference evaluator (``Evaluator`` in MMIF-CDDFuse ``utils/Evaluator.py``):

- EN rounds the image to 8-bit gray levels and uses ``log2`` (bits).
- MI is ``sklearn.metrics.mutual_info_score`` on the flattened images: every distinct pixel
  value is one label (no binning) and the log is natural (nats). It reports
  ``MI(F, A) + MI(F, B)``. Pass ``base=2`` for bits, as the MATLAB fusion toolboxes report it.
  Non-integer float images (raw network output) make almost every pixel its own label and MI
  meaningless: round to 8-bit gray levels first, as the reference does by reading 8-bit files.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ._checks import as_gray_image, as_image_triplet

__all__ = ["entropy", "mutual_information", "mutual_information_score"]


def _log_of_base(base: float) -> float:
    if not base > 0 or base == 1:
        raise ValueError(f"log base must be positive and not 1; got {base=}")
    return math.log(base)


def entropy(image: Any, *, base: float = 2.0) -> float:
    """EN: Shannon entropy of the 256-bin gray-level histogram.

    ``EN = -sum_l p_l log(p_l)`` over the gray levels ``l`` present, where ``p_l`` is the
    fraction of pixels whose value rounds (half to even) to ``l``.

    Args:
        image: [H, W] float or uint8, values in [0, 255].
        base: log base; the reference uses 2 (bits).

    Returns:
        Entropy in [0, log_base(256)]; 0 for a constant image.
    """
    levels = np.round(as_gray_image(image)).astype(np.int64).ravel()
    p = np.bincount(levels, minlength=256) / levels.size
    p = p[p > 0]
    return float(0.0 - (p * np.log(p)).sum()) / _log_of_base(base)


def mutual_information_score(a: Any, b: Any, *, base: float = math.e) -> float:
    """Mutual information between the pixel values of two images of the same shape.

    Each distinct value is its own label (no binning), as in
    ``sklearn.metrics.mutual_info_score(a.ravel(), b.ravel())``:
    ``MI = sum_ij p_ij log(p_ij / (p_i p_j))`` over the non-empty cells of the joint histogram.
    8-bit images therefore get the 256x256 gray-level joint histogram.

    Args:
        a: [H, W] float or uint8, values in [0, 255].
        b: [H, W], same shape as ``a``.
        base: log base; ``math.e`` (nats) as sklearn and the reference evaluator.

    Returns:
        MI >= 0 (clipped at 0 like sklearn); 0 when either image is constant.
    """
    a = as_gray_image(a, "a")
    b = as_gray_image(b, "b")
    if a.shape != b.shape:
        raise ValueError(f"a and b must have the same shape; got a={a.shape}, b={b.shape}")
    labels_a, index_a = np.unique(a.ravel(), return_inverse=True)
    labels_b, index_b = np.unique(b.ravel(), return_inverse=True)
    if labels_a.size == 1 or labels_b.size == 1:
        return 0.0
    cells, joint = np.unique(index_a.astype(np.int64) * labels_b.size + index_b, return_counts=True)
    count_a = np.bincount(index_a)[cells // labels_b.size]
    count_b = np.bincount(index_b)[cells % labels_b.size]
    n = float(a.size)
    terms = (joint / n) * (np.log(joint) + math.log(n) - np.log(count_a) - np.log(count_b))
    return max(float(terms.sum()), 0.0) / _log_of_base(base)


def mutual_information(fused: Any, ir: Any, vis: Any, *, base: float = math.e) -> float:
    """MI: ``MI(F, IR) + MI(F, VIS)`` (summed over both sources, as the reference does).

    Args:
        fused, ir, vis: [H, W] float or uint8, values in [0, 255], same shape.
        base: log base of :func:`mutual_information_score`; the reference's sklearn call
            uses ``math.e`` (nats). ``base=2`` gives bits.

    Returns:
        MI >= 0. ``mutual_information(x, x, x, base=2) == 2 * entropy(x)`` for 8-bit ``x``.
    """
    fused, ir, vis = as_image_triplet(fused, ir, vis)
    return mutual_information_score(fused, ir, base=base) + mutual_information_score(
        fused, vis, base=base
    )
