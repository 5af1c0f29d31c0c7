"""The fusion front end every adapter puts in front of its task networks (plain torch).

One pass, the same in the detectron2 meta-architecture and in the mm preprocessor, backbone and
joint model::

    visible RGB [B, 3, H, W] in [0, 1], IR [B, 1, H, W] in [0, 1]
      -> rgb_to_y -> TSJNet(ir, Y) -> fused Y [B, 1, H, W] in (0, 1)
      -> (training) TSJFusionLoss -> loss_fusion_* (times loss_weight)
      -> recolor with the visible chroma -> fused RGB [B, 3, H, W] in [0, 1]

mm packs a pair as one 4-channel image (B, G, R, IR) (`tsjnet_plugin.data.pack_pair`);
`split_pair` separates it and `FusionFrontEnd.fuse_pair` takes it whole. The fused image stays in the autograd graph, so
a task loss on it reaches the fusion trunk.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NamedTuple

import torch
from torch import nn

from ..data.packing import PAIR_CHANNELS
from .checkpoint import load_checkpoint
from .color import recolor, rgb_to_y
from .losses import FusionLossWeights, LossPadding, TSJFusionLoss, default_loss_padding
from .official import TSJNet, build_fusion_model

__all__ = ["FusedBatch", "FusionFrontEnd", "split_pair"]


def split_pair(inputs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Split packed pair inputs into the visible and the IR image (views, no copy).

    Args:
        inputs: [..., 4, H, W] channels (B, G, R, IR), e.g. one packed sample [4, H, W] or a
            batch [B, 4, H, W]; any dtype and scale (packed pipelines give float in [0, 255]).

    Returns:
        vis_bgr: [..., 3, H, W] and ir: [..., 1, H, W], same dtype and scale as `inputs`.
    """
    if inputs.dim() < 3 or inputs.shape[-3] != len(PAIR_CHANNELS):
        raise ValueError(
            f"split_pair expects [..., 4, H, W] (B, G, R, IR) inputs, got {tuple(inputs.shape)}"
        )
    return inputs[..., :3, :, :], inputs[..., 3:, :, :]


class FusedBatch(NamedTuple):
    """What `FusionFrontEnd` returns.

    Attributes:
        rgb: [B, 3, H, W] fused colour image (visible chroma), RGB float in [0, 1].
        fused: [B, 1, H, W] fused luminance in (0, 1).
        losses: weighted fusion loss terms (`loss_fusion_int`, ...), empty when not computed.
    """

    rgb: torch.Tensor
    fused: torch.Tensor
    losses: dict[str, torch.Tensor]


class FusionFrontEnd(nn.Module):
    """The TSJNet fusion network with its loss, as one module every adapter shares.

    Args:
        arch: a preset of `tsjnet_plugin.fusion.ARCHS` ("official", "fast", "small", "tiny").
        checkpoint: fusion weights (a path or a shipped name, ours or the official four-part
            `TSJNet.pth`), loaded strictly.
        freeze: keep the network fixed (no gradients, eval mode, no fusion loss).
        loss_weights: `FusionLossWeights` fields by name (official 20, 20, 10, 0.1, 6, 1).
        loss_weight: factor on the whole fusion loss; 0 computes none.
        loss_padding: "zeros" or "reflect" for the loss's Sobel and SSIM; default: the
            preset's (`default_loss_padding`: "zeros" for "official", else "reflect").
        **overrides: `TSJNetConfig` fields, e.g. `attention_backend="torch"`.

    The network is `self.net` (state dict keys `net.*`); state dicts saved with the network's
    keys directly under the front end's prefix (detectron2 checkpoints before the front end
    existed) load too.
    """

    def __init__(
        self,
        arch: str = "official",
        checkpoint: str | None = None,
        freeze: bool = False,
        loss_weights: Mapping[str, float] | None = None,
        loss_weight: float = 1.0,
        loss_padding: LossPadding | None = None,
        **overrides: Any,
    ) -> None:
        super().__init__()
        if loss_weight < 0:
            raise ValueError(f"fusion loss_weight must be >= 0, got {loss_weight=}")
        self.net: TSJNet = build_fusion_model(arch, **overrides)
        if checkpoint:
            load_checkpoint(self.net, checkpoint)
        self.criterion = TSJFusionLoss(
            FusionLossWeights(**dict(loss_weights or {})),
            loss_padding or default_loss_padding(arch),
        )
        self.freeze = freeze
        self.loss_weight = float(loss_weight)
        if freeze:
            self.net.requires_grad_(False)
            self.net.eval()
        self.register_load_state_dict_pre_hook(_accept_bare_network_keys)

    @property
    def computes_loss(self) -> bool:
        """Whether a training pass yields fusion losses."""
        return not self.freeze and self.loss_weight > 0

    def train(self, mode: bool = True) -> FusionFrontEnd:
        """Switch modes; a frozen network stays in eval mode."""
        super().train(mode)
        if self.freeze:
            self.net.eval()
        return self

    def forward(
        self, vis_rgb: torch.Tensor, ir: torch.Tensor, with_loss: bool = False
    ) -> FusedBatch:
        """Fuse a batch of pairs.

        Args:
            vis_rgb: [B, 3, H, W] visible RGB, float in [0, 1].
            ir: [B, 1, H, W] infrared, float in [0, 1].
            with_loss: also compute the weighted fusion loss (skipped when `computes_loss` is
                False).

        Returns:
            `FusedBatch`; `losses` holds `loss_fusion_*` terms, each already times
            `loss_weight`.
        """
        vis_y = rgb_to_y(vis_rgb)
        if not (with_loss and self.computes_loss):
            fused = self.net(ir, vis_y)
            return FusedBatch(recolor(fused, vis_rgb), fused, {})
        outputs = self.net(ir, vis_y, with_aux=True)
        losses = {
            name: value * self.loss_weight
            for name, value in self.criterion(outputs, ir, vis_y).items()
        }
        return FusedBatch(recolor(outputs.fused, vis_rgb), outputs.fused, losses)

    def fuse_pair(self, pair: torch.Tensor, with_loss: bool = False) -> FusedBatch:
        """`forward` on packed pairs: [B, 4, H, W] channels (B, G, R, IR), float in [0, 1]."""
        vis_bgr, ir = split_pair(pair)
        return self(vis_bgr.flip(1), ir, with_loss)


def _accept_bare_network_keys(module: nn.Module, state_dict: dict, prefix: str, *args: Any) -> None:
    """Move `prefix + key` to `prefix + "net." + key` for keys saved without the `net.` level
    (the front end holds no state of its own besides the network)."""
    for key in [k for k in state_dict if k.startswith(prefix)]:
        if not key.startswith(prefix + "net."):
            state_dict[prefix + "net." + key[len(prefix) :]] = state_dict.pop(key)
