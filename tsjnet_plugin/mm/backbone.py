"""`TSJFusionBackbone`: fusion, then any registered backbone, as one mm backbone.

For setups that change nothing but the backbone::

    inputs [B, 4, H, W] (B, G, R, IR) in [0, 1]   <- stock preprocessor, mean=[0.], std=[255.],
      |                                               bgr_to_rgb=False (see docs/mm.md)
      -> FusionFrontEnd -> fused RGB [B, 3, H, W] in [0, 1]
      -> 0-255, channel order and mean/std the inner backbone was trained with
      -> inner backbone -> its features, unchanged

The task loss reaches the fusion trunk through the features. The fusion loss is computed in
training passes and added to the loss dict by `TSJFusionLossHook` (or set
`fusion=dict(loss_weight=0)` to train the trunk by the task loss alone).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from mmengine.model import BaseModule
from mmengine.registry import MODELS, DefaultScope

from tsjnet_plugin.fusion import FusionFrontEnd

from .preprocessor import PIXEL_MAX, FusionLossSource, check_unit_pair_batch

__all__ = ["IMAGENET_MEAN", "IMAGENET_STD", "TSJFusionBackbone", "build_registered"]

IMAGENET_MEAN = (123.675, 116.28, 103.53)  # RGB, 0-255: what torchvision/mm ResNets expect
IMAGENET_STD = (58.395, 57.12, 57.375)


def build_registered(cfg: dict, owner: str, key: str) -> Any:
    """`MODELS.build(cfg)`, with an error naming `owner`, `key` and the scope when the type is
    not registered (instead of a deep registry traceback)."""
    if not isinstance(cfg, dict) or "type" not in cfg:
        raise TypeError(f"{owner}: {key} must be a config dict with a 'type', got {cfg!r}")
    scope = cfg.get("_scope_") or DefaultScope.get_current_instance()
    scope_name = getattr(scope, "scope_name", scope) or "mmengine"
    with MODELS.switch_scope_and_registry(scope_name) as registry:
        found = registry.get(cfg["type"]) if isinstance(cfg["type"], str) else cfg["type"]
    if found is None:
        raise KeyError(
            f"{owner}: {key}.type={cfg['type']!r} is not registered in the {scope_name!r} "
            "MODELS registry (or its parents); check the name, the default_scope and "
            "custom_imports"
        )
    return MODELS.build(cfg)


@MODELS.register_module()
class TSJFusionBackbone(FusionLossSource, BaseModule):
    """TSJNet fusion in front of any registered backbone.

    Args:
        backbone: config of the inner backbone (e.g. mmseg `ResNetV1c`, mmdet `ResNet`).
        fusion: `FusionFrontEnd` arguments (`arch`, `checkpoint`, `freeze`, `loss_weights`,
            `loss_weight`, `TSJNetConfig` overrides).
        mean, std: the inner backbone's input normalisation in 0-255 units, in its channel
            order (default ImageNet RGB; caffe-style ResNets: BGR mean, std 1).
        to_rgb: whether the inner backbone takes RGB (True) or BGR (False).
        init_cfg: `BaseModule` init config; the inner backbone keeps its own.

    Input: [B, 4, H, W] channels (B, G, R, IR) in [0, 1]. Output: the inner backbone's output.
    """

    def __init__(
        self,
        backbone: dict,
        fusion: dict | None = None,
        mean: Sequence[float] = IMAGENET_MEAN,
        std: Sequence[float] = IMAGENET_STD,
        to_rgb: bool = True,
        init_cfg: dict | list | None = None,
    ) -> None:
        super().__init__(init_cfg)
        if len(mean) != 3 or len(std) != 3 or min(std) <= 0:
            raise ValueError(
                f"TSJFusionBackbone: mean and std need 3 values (std > 0), got {mean=}, {std=}"
            )
        self.front_end = FusionFrontEnd(**dict(fusion or {}))
        self.backbone = build_registered(backbone, "TSJFusionBackbone", "backbone")
        self.to_rgb = to_rgb
        self.register_buffer("mean", torch.tensor(mean).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(std).view(1, 3, 1, 1), persistent=False)

    def forward(self, x: torch.Tensor) -> Any:
        """Fuse the pair in `x` ([B, 4, H, W], (B, G, R, IR) in [0, 1]) and run the backbone."""
        check_unit_pair_batch(x, "TSJFusionBackbone")
        batch = self.front_end.fuse_pair(x, with_loss=self.training)
        self._keep_losses(batch.losses)
        image = batch.rgb if self.to_rgb else batch.rgb.flip(1)
        return self.backbone((image * PIXEL_MAX - self.mean) / self.std)
