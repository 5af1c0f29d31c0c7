"""Image-fusion quality metrics, framework-free (numpy; PIL only to read image files).

Twelve metrics on 8-bit grayscale images (``[H, W]`` float or uint8 in [0, 255]); by default
each one reproduces the field's reference evaluator, ``Evaluator`` in MMIF-CDDFuse
``utils/Evaluator.py``, and keyword options select the textbook variants where the reference
differs. ``docs/metrics.md`` lists formulas and conventions. Example::

    scores = evaluate_fusion(fused, ir, vis)  # {"EN": ..., ..., "MSE": ...}
    scores = evaluate_fusion(fused, ir, vis, SSIM={"data_range": 255.0})
"""

from .evaluate import METRIC_FUNCTIONS, METRIC_NAMES, METRIC_OPTIONS, evaluate_fusion
from .folders import evaluate_folders, read_gray, rgb_luma
from .gradient import average_gradient, edge_preservation, spatial_frequency
from .information import entropy, mutual_information, mutual_information_score
from .scoring import gray_levels, mean_scores, score_pair
from .statistics import (
    correlation_coefficient,
    correlation_of_differences,
    mean_squared_error,
    peak_signal_to_noise_ratio,
    standard_deviation,
)
from .structural import ssim_index, structural_similarity
from .vif import vifp, visual_information_fidelity

__all__ = [
    "METRIC_FUNCTIONS",
    "METRIC_NAMES",
    "METRIC_OPTIONS",
    "average_gradient",
    "correlation_coefficient",
    "correlation_of_differences",
    "edge_preservation",
    "entropy",
    "evaluate_folders",
    "evaluate_fusion",
    "gray_levels",
    "mean_scores",
    "mean_squared_error",
    "mutual_information",
    "mutual_information_score",
    "peak_signal_to_noise_ratio",
    "read_gray",
    "rgb_luma",
    "score_pair",
    "spatial_frequency",
    "ssim_index",
    "standard_deviation",
    "structural_similarity",
    "vifp",
    "visual_information_fidelity",
]
