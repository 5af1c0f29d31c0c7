"""The fusion steps the detectron2 models share: build the fusion network and its loss from
``MODEL.TSJNET``, and fuse a batch of pairs (fused Y, re-coloured image, weighted losses)."""

from __future__ import annotations

import logging
from typing import NamedTuple

import torch
from detectron2.config import CfgNode

from tsjnet_plugin.fusion import (
    FusionLossWeights,
    TSJFusionLoss,
    TSJNet,
    build_fusion_model,
    load_checkpoint,
    recolor,
    rgb_to_y,
)

__all__ = ["FusedPair", "build_fusion_parts", "fuse_pair"]

logger = logging.getLogger(__name__)


class FusedPair(NamedTuple):
    """What :func:`fuse_pair` returns.

    Attributes:
        rgb: ``[B, 3, H, W]`` fused colour image (visible chroma), RGB float in [0, 1].
        y: ``[B, 1, H, W]`` fused luminance in (0, 1).
        losses: weighted fusion loss terms (``loss_int``, ...); empty when not computed.
    """

    rgb: torch.Tensor
    y: torch.Tensor
    losses: dict[str, torch.Tensor]


def build_fusion_parts(cfg: CfgNode) -> tuple[TSJNet, TSJFusionLoss, float]:
    """The fusion network of ``MODEL.TSJNET`` (``ARCH``, ``ATTENTION_BACKEND``, ``WEIGHTS``,
    ``FREEZE``), its loss (``FUSION_LOSS.*``) and the weight of the whole loss term."""
    tsj = cfg.MODEL.TSJNET
    fusion = build_fusion_model(tsj.ARCH, attention_backend=tsj.ATTENTION_BACKEND)
    if tsj.WEIGHTS:
        load_checkpoint(fusion, tsj.WEIGHTS)
        logger.info("loaded fusion weights from %s", tsj.WEIGHTS)
    if tsj.FREEZE:
        fusion.requires_grad_(False)
    weights = tsj.FUSION_LOSS
    loss = TSJFusionLoss(
        FusionLossWeights(
            weights.INTENSITY,
            weights.GRADIENT,
            weights.SSIM,
            weights.DIVERSITY,
            weights.RECON_VIS,
            weights.RECON_IR,
        )
    )
    return fusion, loss, weights.WEIGHT


def fuse_pair(
    fusion: TSJNet,
    fusion_loss: TSJFusionLoss,
    loss_weight: float,
    vis_rgb: torch.Tensor,
    ir: torch.Tensor,
    with_loss: bool,
) -> FusedPair:
    """Fuse (IR, visible Y) and re-colour the fused Y with the visible chroma.

    Args:
        fusion, fusion_loss: the network and its loss; ``loss_weight`` scales every term.
        vis_rgb: ``[B, 3, H, W]`` visible RGB in [0, 1]; ir: ``[B, 1, H, W]`` in [0, 1].
        with_loss: also compute the weighted fusion losses.
    """
    vis_y = rgb_to_y(vis_rgb)
    if not with_loss:
        fused = fusion(ir, vis_y)
        return FusedPair(recolor(fused, vis_rgb), fused, {})
    outputs = fusion(ir, vis_y, with_aux=True)
    losses = {k: v * loss_weight for k, v in fusion_loss(outputs, ir, vis_y).items()}
    return FusedPair(recolor(outputs.fused, vis_rgb), outputs.fused, losses)
