"""The framework-free TSJNet fusion network: architecture, losses, colour, checkpoints and the
shipped weights."""

from .checkpoint import (
    CheckpointError,
    build_model_from_checkpoint,
    load_checkpoint,
    official_state_dict,
    save_checkpoint,
)
from .color import ir_to_tensor, recolor, rgb_to_y, rgb_to_ycbcr, visible_to_tensor, ycbcr_to_rgb
from .front_end import FusedBatch, FusionFrontEnd, split_pair
from .losses import FusionLossWeights, TSJFusionLoss
from .official import ARCHS, FusionOutput, TSJNet, TSJNetConfig, build_fusion_model
from .pretrained import DEFAULT_WEIGHTS, PRETRAINED, resolve_weights

__all__ = [
    "ARCHS",
    "DEFAULT_WEIGHTS",
    "PRETRAINED",
    "CheckpointError",
    "FusedBatch",
    "FusionFrontEnd",
    "FusionLossWeights",
    "FusionOutput",
    "TSJFusionLoss",
    "TSJNet",
    "TSJNetConfig",
    "build_fusion_model",
    "build_model_from_checkpoint",
    "ir_to_tensor",
    "load_checkpoint",
    "official_state_dict",
    "recolor",
    "resolve_weights",
    "rgb_to_y",
    "rgb_to_ycbcr",
    "save_checkpoint",
    "split_pair",
    "visible_to_tensor",
    "ycbcr_to_rgb",
]
