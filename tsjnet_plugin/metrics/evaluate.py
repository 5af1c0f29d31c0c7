"""The metric table and ``evaluate_fusion``, which computes any subset of it for one image."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from ._checks import as_image_triplet
from .gradient import average_gradient, edge_preservation, spatial_frequency
from .information import entropy, mutual_information
from .statistics import (
    correlation_coefficient,
    correlation_of_differences,
    mean_squared_error,
    peak_signal_to_noise_ratio,
    standard_deviation,
)
from .structural import structural_similarity
from .vif import visual_information_fidelity

__all__ = [
    "METRIC_FUNCTIONS",
    "METRIC_NAMES",
    "METRIC_OPTIONS",
    "check_metric_request",
    "evaluate_fusion",
    "mean_scores",
]

METRIC_NAMES = ("EN", "SD", "SF", "AG", "MI", "SCD", "VIF", "Qabf", "SSIM", "PSNR", "CC", "MSE")

# Name -> (function, takes the sources). Single-image metrics look at the fused image only.
_TABLE: dict[str, tuple[Callable[..., float], bool]] = {
    "EN": (entropy, False),
    "SD": (standard_deviation, False),
    "SF": (spatial_frequency, False),
    "AG": (average_gradient, False),
    "MI": (mutual_information, True),
    "SCD": (correlation_of_differences, True),
    "VIF": (visual_information_fidelity, True),
    "Qabf": (edge_preservation, True),
    "SSIM": (structural_similarity, True),
    "PSNR": (peak_signal_to_noise_ratio, True),
    "CC": (correlation_coefficient, True),
    "MSE": (mean_squared_error, True),
}
METRIC_FUNCTIONS: dict[str, Callable[..., float]] = {
    name: function for name, (function, _) in _TABLE.items()
}
# Name -> keyword options the metric accepts (its keyword-only parameters).
METRIC_OPTIONS: dict[str, tuple[str, ...]] = {
    name: tuple(
        p.name
        for p in inspect.signature(function).parameters.values()
        if p.kind is inspect.Parameter.KEYWORD_ONLY
    )
    for name, function in METRIC_FUNCTIONS.items()
}


def check_metric_request(metrics: Sequence[str], options: Mapping[str, Mapping[str, Any]]) -> None:
    """Raise if ``metrics`` names an unknown metric or ``options`` an unknown option.

    Raises:
        TypeError: ``metrics`` is a string, or an options entry is not a mapping.
        ValueError: unknown metric name or option, naming the valid choices.
    """
    if isinstance(metrics, str):
        raise TypeError(f"metrics must be a sequence of names, not the string {metrics!r}")
    for name in list(metrics) + list(options):
        if name not in _TABLE:
            raise ValueError(f"unknown metric {name!r}; choose from {METRIC_NAMES}")
    for name, kwargs in options.items():
        if not isinstance(kwargs, Mapping):
            raise TypeError(
                f"options for {name} must be a dict of keyword options; got {type(kwargs)}"
            )
        unknown = sorted(set(kwargs) - set(METRIC_OPTIONS[name]))
        if unknown:
            raise ValueError(
                f"unknown option(s) {unknown} for {name}; it accepts {METRIC_OPTIONS[name]}"
            )


def evaluate_fusion(
    fused: Any,
    ir: Any,
    vis: Any,
    metrics: Sequence[str] = METRIC_NAMES,
    **options: Mapping[str, Any],
) -> dict[str, float]:
    """Compute fusion metrics for one fused image and its two sources.

    By default every metric matches the reference evaluator (MMIF-CDDFuse
    ``utils/Evaluator.py``); see ``docs/metrics.md``.

    Args:
        fused, ir, vis: [H, W] float or uint8 8-bit gray levels in [0, 255], same shape.
            All 12 metrics need H, W >= 41 (VIF); SSIM needs 7, the rest 2.
        metrics: names from :data:`METRIC_NAMES`, computed in this order.
        **options: per-metric keyword options, keyed by metric name, e.g.
            ``SSIM={"data_range": 255.0}, MI={"base": 2}``; see :data:`METRIC_OPTIONS`.

    Returns:
        ``{name: value}`` for each requested metric, in the requested order.

    Raises:
        ValueError: unknown metric or option, or an input check fails (shape, range, size).
    """
    check_metric_request(metrics, options)
    fused, ir, vis = as_image_triplet(fused, ir, vis)
    results: dict[str, float] = {}
    for name in metrics:
        function, takes_sources = _TABLE[name]
        kwargs = dict(options.get(name, {}))
        args = (fused, ir, vis) if takes_sources else (fused,)
        results[name] = function(*args, **kwargs)
    return results


def mean_scores(per_image: Sequence[Mapping[str, float]]) -> dict[str, float]:
    """Metric-wise mean over images, leaving out non-finite values (NaN when none is left)."""
    names = list(per_image[0]) if per_image else []
    means = {}
    for name in names:
        values = [row[name] for row in per_image if np.isfinite(row[name])]
        means[name] = float(np.mean(values)) if values else float("nan")
    return means
