"""TSJNet fusion in front of any detectron2 backbone, as one backbone.

``MODEL.BACKBONE.NAME: "build_tsjnet_backbone"`` with ``MODEL.TSJNET.INNER_BACKBONE`` naming the
stock backbone (e.g. ``"build_resnet_fpn_backbone"``) puts fusion in front of any stock
meta-architecture (GeneralizedRCNN, RetinaNet, SemanticSegmentor, PanopticFPN, ...)::

    image [4, H, W] per input: visible in INPUT.FORMAT order + IR, all on 0-255
      -> the stock meta-arch normalises with the 4-value MODEL.PIXEL_MEAN/STD and pads
      -> TSJNetBackbone: undo the normalisation -> visible RGB, IR in [0, 1]
      -> fuse (MODEL.TSJNET) -> fused RGB [B, 3, H, W] in [0, 1]
      -> 0-255, INPUT.FORMAT order, the first 3 PIXEL_MEAN/STD -> inner backbone -> its features

The detector/segmentor loss reaches the fusion trunk through the features. In training passes
the backbone also computes the fusion loss and keeps it until the forward hook of
:func:`add_fusion_losses` adds it to the meta-architecture's loss dict (``TSJTrainer`` attaches
it; a training pass without it is an error, never a silently dropped loss).

Stock weights: :meth:`TSJNetBackbone` state dicts keep the inner backbone under ``inner.``; a
load-state-dict pre-hook moves a stock checkpoint's ``backbone.*`` keys there, so
``MODEL.WEIGHTS`` / ``train.init_checkpoint`` load with any detectron2 checkpointer.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from detectron2.config import CfgNode
from detectron2.layers import ShapeSpec
from detectron2.modeling import BACKBONE_REGISTRY, Backbone
from torch import nn

from tsjnet_plugin.fusion import FusionFrontEnd

from .front_end import build_fusion_front_end

__all__ = [
    "TSJNetBackbone",
    "add_fusion_losses",
    "build_tsjnet_backbone",
    "fusion_backbones",
    "stock_backbone_key",
]

PIXEL_MAX = 255.0
INNER = "inner."
FUSION = "fusion."


def stock_backbone_key(key: str) -> str | None:
    """The wrapped name of a stock backbone state-dict key relative to the backbone
    (``bottom_up.res2.0.conv1.weight`` -> ``inner.bottom_up.res2.0.conv1.weight``), or None for
    a key that already belongs to the wrapper (``inner.*``, ``fusion.*``)."""
    if key.startswith((INNER, FUSION)):
        return None
    return INNER + key


class TSJNetBackbone(Backbone):
    """Fusion, then a stock detectron2 backbone on the fused image.

    Args:
        inner: the stock backbone, taking 3-channel images in ``input_format`` order normalised
            with ``pixel_mean[:3]``/``pixel_std[:3]``.
        fusion: the fusion front end (network, loss and loss weight; a loss weight of 0 or a
            frozen network computes no fusion loss).
        pixel_mean, pixel_std: the meta-architecture's 4 values (visible in ``input_format``
            order, then IR), on the 0-255 scale of the input images.
        input_format: "BGR" or "RGB", the order of the 3 visible channels.

    Input: ``[B, 4, H, W]`` normalised with ``pixel_mean``/``pixel_std`` (what the stock
    meta-architecture makes of :class:`~tsjnet_plugin.d2.PairDatasetMapper`'s 4-channel
    images). Output: the inner backbone's features.
    """

    def __init__(
        self,
        *,
        inner: Backbone,
        fusion: FusionFrontEnd,
        pixel_mean: Sequence[float],
        pixel_std: Sequence[float],
        input_format: str = "BGR",
    ) -> None:
        super().__init__()
        if len(pixel_mean) != 4 or len(pixel_std) != 4 or min(pixel_std) <= 0:
            raise ValueError(
                "TSJNetBackbone: MODEL.PIXEL_MEAN and MODEL.PIXEL_STD need 4 values (the 3 "
                "visible ones in INPUT.FORMAT order, then the IR one, e.g. 0.0 and 1.0; std > 0), "
                f"got {list(pixel_mean)} and {list(pixel_std)}"
            )
        if input_format not in ("RGB", "BGR"):
            raise ValueError(
                f"TSJNetBackbone: INPUT.FORMAT must be RGB or BGR, got {input_format!r}"
            )
        self.fusion = fusion
        self.inner = inner
        self.input_format = input_format
        self.register_buffer("pixel_mean", torch.tensor(pixel_mean).view(1, 4, 1, 1), False)
        self.register_buffer("pixel_std", torch.tensor(pixel_std).view(1, 4, 1, 1), False)
        self.collector_attached = False
        self._pending: dict[str, torch.Tensor] | None = None
        self.register_load_state_dict_pre_hook(self._wrap_stock_keys)

    @staticmethod
    def _wrap_stock_keys(module: nn.Module, state_dict: dict, prefix: str, *args: Any) -> None:
        """Move a stock backbone's keys (``prefix + name``) under ``prefix + "inner."``."""
        for key in [k for k in state_dict if k.startswith(prefix)]:
            wrapped = stock_backbone_key(key[len(prefix) :])
            if wrapped is not None:
                state_dict[prefix + wrapped] = state_dict.pop(key)

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """Fuse the normalised pairs ``x`` ([B, 4, H, W]) and run the inner backbone."""
        if x.dim() != 4 or x.shape[1] != 4:
            raise ValueError(
                f"TSJNetBackbone expects [B, 4, H, W] images (visible + IR), got {tuple(x.shape)}: "
                "load the data with tsjnet_plugin.d2.PairDatasetMapper"
            )
        raw = (x * self.pixel_std + self.pixel_mean) / PIXEL_MAX
        vis = raw[:, :3] if self.input_format == "RGB" else raw[:, :3].flip(1)
        ir = raw[:, 3:]
        fused = self.fusion(vis.clamp(0.0, 1.0), ir.clamp(0.0, 1.0), with_loss=self.training)
        self._keep_losses(fused.losses)
        image = fused.rgb * PIXEL_MAX
        if self.input_format == "BGR":
            image = image.flip(1)
        return self.inner((image - self.pixel_mean[:, :3]) / self.pixel_std[:, :3])

    def _keep_losses(self, losses: dict[str, torch.Tensor]) -> None:
        if not losses:
            return
        if not self.collector_attached:
            raise RuntimeError(
                "TSJNetBackbone computed fusion losses but nothing adds them to the model's "
                "losses: call tsjnet_plugin.d2.add_fusion_losses(model) (TSJTrainer does), or "
                "set MODEL.TSJNET.FUSION_LOSS.WEIGHT 0 to train fusion by the task loss alone"
            )
        self._pending = losses

    def pop_fusion_losses(self) -> dict[str, torch.Tensor]:
        """The weighted fusion losses of the last training pass, then forget them."""
        losses, self._pending = self._pending or {}, None
        return losses

    def output_shape(self) -> dict[str, ShapeSpec]:
        return self.inner.output_shape()

    @property
    def size_divisibility(self) -> int:
        return self.inner.size_divisibility

    @property
    def padding_constraints(self) -> dict[str, int]:
        return self.inner.padding_constraints


def fusion_backbones(model: nn.Module) -> list[TSJNetBackbone]:
    """Every :class:`TSJNetBackbone` inside ``model``."""
    return [m for m in model.modules() if isinstance(m, TSJNetBackbone)]


def _merge_fusion_losses(module: nn.Module, inputs: Any, output: Any) -> None:
    if module.training and isinstance(output, dict):
        for backbone in fusion_backbones(module):
            output.update(backbone.pop_fusion_losses())


def add_fusion_losses(model: nn.Module) -> nn.Module:
    """Add the fusion losses of ``model``'s :class:`TSJNetBackbone` to the loss dict that
    ``model`` returns in training (a forward hook on ``model``); returns ``model``.

    Use it on the meta-architecture (before any DDP wrapping): ``TSJTrainer`` does; with a stock
    trainer or a LazyConfig, ``model = L(add_fusion_losses)(model=...)``. Attaching twice is a
    no-op; a model without a fusion backbone is returned unchanged.
    """
    backbones = fusion_backbones(model)
    if backbones and not all(b.collector_attached for b in backbones):
        model.register_forward_hook(_merge_fusion_losses)
        for backbone in backbones:
            backbone.collector_attached = True
    return model


@BACKBONE_REGISTRY.register()
def build_tsjnet_backbone(cfg: CfgNode, input_shape: ShapeSpec) -> TSJNetBackbone:
    """``MODEL.BACKBONE.NAME: "build_tsjnet_backbone"``: fusion (``MODEL.TSJNET``) in front of
    the backbone named by ``MODEL.TSJNET.INNER_BACKBONE``, built from the same config."""
    name = cfg.MODEL.TSJNET.INNER_BACKBONE
    if name == "build_tsjnet_backbone" or name not in BACKBONE_REGISTRY:
        known = sorted(k for k, _ in BACKBONE_REGISTRY if k != "build_tsjnet_backbone")
        raise ValueError(
            f"MODEL.TSJNET.INNER_BACKBONE {name!r} is not a detectron2 backbone; registered: {known}"
        )
    if input_shape.channels != 4:
        raise ValueError(
            "build_tsjnet_backbone: MODEL.PIXEL_MEAN and MODEL.PIXEL_STD need 4 values (the 3 "
            "visible ones in INPUT.FORMAT order, then the IR one, e.g. 0.0 and 1.0), got "
            f"{list(cfg.MODEL.PIXEL_MEAN)} and {list(cfg.MODEL.PIXEL_STD)}"
        )
    inner = BACKBONE_REGISTRY.get(name)(cfg, ShapeSpec(channels=3))
    return TSJNetBackbone(
        inner=inner,
        fusion=build_fusion_front_end(cfg),
        pixel_mean=cfg.MODEL.PIXEL_MEAN,
        pixel_std=cfg.MODEL.PIXEL_STD,
        input_format=cfg.INPUT.FORMAT,
    )
