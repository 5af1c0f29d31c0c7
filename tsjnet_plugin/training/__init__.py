"""Fusion-only training (the first stage of TSJNet): crop stream, validation and the trainer.

Framework-free: needs torch, numpy and PIL only. ``tools/train_fusion.py`` is its command line.
"""

from .pairs import CropStream, LoadedPair, load_pairs
from .trainer import FusionTrainConfig, FusionTrainer, cosine_with_warmup
from .validation import QUALITY_METRICS, VAL_METRICS, FusionValidator, baseline_fusions

__all__ = [
    "QUALITY_METRICS",
    "VAL_METRICS",
    "CropStream",
    "FusionTrainConfig",
    "FusionTrainer",
    "FusionValidator",
    "LoadedPair",
    "baseline_fusions",
    "cosine_with_warmup",
    "load_pairs",
]
