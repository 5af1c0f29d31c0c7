"""The core fusion front end built from ``MODEL.TSJNET``, for the detectron2 joint model and the
fusion backbone alike."""

from __future__ import annotations

import logging

from detectron2.config import CfgNode

from tsjnet_plugin.fusion import FusionFrontEnd

__all__ = ["build_fusion_front_end"]

logger = logging.getLogger(__name__)


def build_fusion_front_end(cfg: CfgNode) -> FusionFrontEnd:
    """The :class:`~tsjnet_plugin.fusion.FusionFrontEnd` of ``MODEL.TSJNET`` (``ARCH``,
    ``ATTENTION_BACKEND``, ``WITH_CP``, ``WEIGHTS``, ``FREEZE``, ``FUSION_LOSS.*``)."""
    tsj = cfg.MODEL.TSJNET
    weights = tsj.FUSION_LOSS
    front_end = FusionFrontEnd(
        tsj.ARCH,
        checkpoint=tsj.WEIGHTS or None,
        freeze=tsj.FREEZE,
        loss_weights={
            "intensity": weights.INTENSITY,
            "gradient": weights.GRADIENT,
            "ssim": weights.SSIM,
            "diversity": weights.DIVERSITY,
            "recon_vis": weights.RECON_VIS,
            "recon_ir": weights.RECON_IR,
        },
        loss_weight=weights.WEIGHT,
        loss_padding=weights.PADDING or None,
        attention_backend=tsj.ATTENTION_BACKEND,
        with_cp=tsj.WITH_CP,
    )
    if tsj.WEIGHTS:
        logger.info("loaded fusion weights from %s", tsj.WEIGHTS)
    return front_end
