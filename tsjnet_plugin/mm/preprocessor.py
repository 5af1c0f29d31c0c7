"""The fusion network as an OpenMMLab data preprocessor.

`TSJFusionPreprocessor` puts the core `FusionFrontEnd` (`tsjnet_plugin.fusion.front_end`) in
front of a stock data preprocessor, so a stock mmseg/mmdet model trains on fused images with
only its `data_preprocessor` replaced::

    data['inputs']: [4, H, W] per sample, (B, G, R, IR) in [0, 255]   (LoadIRVisPair)
      -> split, /255 -> ir [B,1,H,W], vis RGB [B,3,H,W] in [0, 1]
      -> TSJNet(ir, Y(vis)) -> fused Y [B,1,H,W]  --(train)--> TSJFusionLoss -> pending losses
      -> recolor with the visible chroma -> fused RGB [B,3,H,W] in [0, 1]
      -> BGR in [0, 255], one [3, H, W] per sample (what the stock pipeline would have packed)
      -> wrapped stock preprocessor (bgr_to_rgb, mean/std, padding, batch shapes)

The fused image stays in the autograd graph, so the task loss reaches the fusion trunk. The
fusion loss is kept on the preprocessor until `TSJFusionLossHook` (`hooks.py`) adds it to the
model's loss dict as `loss_fusion_*`; in evaluation each data sample gets `pred_fusion`
(`PixelData` with `fused` [1, H, W] Y and `rgb` [3, H, W], both in [0, 1]).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import torch
from mmengine.model import BaseDataPreprocessor
from mmengine.registry import MODELS
from mmengine.structures import PixelData
from torch import nn

from tsjnet_plugin.data import PAIR_CHANNELS
from tsjnet_plugin.fusion import FusionFrontEnd

__all__ = [
    "PIXEL_MAX",
    "FusionLossSource",
    "TSJFusionPreprocessor",
    "check_unit_pair_batch",
    "rgb_to_bgr255",
]

PIXEL_MAX = 255.0
_RANGE_TOLERANCE = 1e-3


class FusionLossSource:
    """Mixin for a module that computes fusion losses inside a stock model's pass and keeps them
    until a collector (`TSJFusionLossHook`, `attach_fusion_loss_collector`) adds them to the
    model's loss dict.

    Without a collector the losses would be silently dropped, so `_keep_losses` raises unless one
    is attached (`collector_attached`) or the front end computes no loss.
    """

    front_end: FusionFrontEnd
    collector_attached: bool = False
    _pending: dict[str, torch.Tensor] | None = None

    def pop_fusion_losses(self) -> dict[str, torch.Tensor]:
        """The losses (`loss_fusion_*`) of the last training pass, and forget them."""
        losses, self._pending = self._pending or {}, None
        return losses

    def _keep_losses(self, losses: Mapping[str, torch.Tensor]) -> None:
        if not losses:
            return
        if not self.collector_attached:
            raise RuntimeError(
                f"{type(self).__name__} computed fusion losses but nothing adds them to the "
                "model's losses: add custom_hooks=[dict(type='TSJFusionLossHook')] to the config "
                "(or set fusion=dict(loss_weight=0) to train the fusion net by the task loss only)"
            )
        self._pending = dict(losses)


def rgb_to_bgr255(rgb: torch.Tensor) -> torch.Tensor:
    """[..., 3, H, W] RGB in [0, 1] -> [..., 3, H, W] BGR in [0, 255] (differentiable): the
    layout stock pipelines pack for stock data preprocessors."""
    return rgb.flip(-3) * PIXEL_MAX


def check_unit_pair_batch(pair: torch.Tensor, owner: str) -> torch.Tensor:
    """`pair`, after checking it is [B, 4, H, W] (`PAIR_CHANNELS`) in [0, 1] (up to a small
    tolerance): what a stock data preprocessor with mean=[0.0], std=[255.0], bgr_to_rgb=False
    makes of the packed pairs. `owner` names the module in the errors."""
    if pair.dim() != 4 or pair.shape[1] != len(PAIR_CHANNELS):
        raise ValueError(
            f"{owner} expects inputs [B, 4, H, W] with channels {PAIR_CHANNELS}, got "
            f"{tuple(pair.shape)}: load pairs with LoadIRVisPair"
        )
    low, high = float(pair.min()), float(pair.max())
    if low < -_RANGE_TOLERANCE or high > 1 + _RANGE_TOLERANCE:
        scaled = high > PIXEL_MAX / 2 or low < -1.0  # far outside: not normalised by 255
        cause = (
            "its data preprocessor must be mean=[0.0], std=[255.0], bgr_to_rgb=False"
            if scaled
            else "a pipeline transform left [0, 255] (wrap photometric transforms in "
            "ApplyToVisible, which clips), or the data preprocessor is not mean=[0.0], "
            "std=[255.0], bgr_to_rgb=False"
        )
        raise ValueError(
            f"{owner} expects inputs in [0, 1] (the pair on 0-255 divided by 255), got "
            f"[{low:.3g}, {high:.3g}]: {cause}"
        )
    return pair


def _check_pair_inputs(inputs: Sequence[torch.Tensor]) -> None:
    for index, sample in enumerate(inputs):
        if sample.dim() != 3 or sample.shape[0] != len(PAIR_CHANNELS):
            raise ValueError(
                f"TSJFusionPreprocessor expects each input as [4, H, W] with channels "
                f"{PAIR_CHANNELS} in [0, 255], got {tuple(sample.shape)} for sample {index}: "
                "load the pair with dict(type='LoadIRVisPair') instead of LoadImageFromFile"
            )


@MODELS.register_module()
class TSJFusionPreprocessor(FusionLossSource, BaseDataPreprocessor):
    """Fuse (IR, visible) pairs, then hand the fused colour image to a stock preprocessor.

    Args:
        preprocessor: config of the wrapped stock preprocessor, e.g. the model's own
            `SegDataPreProcessor`/`DetDataPreprocessor` (`_base_.model.data_preprocessor`); it
            sees [3, H, W] BGR images in [0, 255] exactly as from `LoadImageFromFile`.
        fusion: `FusionFrontEnd` arguments (`arch`, `checkpoint`, `freeze`, `loss_weights`,
            `loss_weight`, `TSJNetConfig` overrides).
        non_blocking: as in `BaseDataPreprocessor`.

    Data in: `inputs` a list of [4, H, W] (or a batch [B, 4, H, W]) channels (B, G, R, IR) in
    [0, 255], as `LoadIRVisPair` + `Pack*Inputs` give. Data out: whatever the wrapped
    preprocessor returns for the fused images.
    """

    def __init__(
        self,
        preprocessor: dict,
        fusion: dict | None = None,
        non_blocking: bool = False,
    ) -> None:
        super().__init__(non_blocking)
        if not isinstance(preprocessor, Mapping) or "type" not in preprocessor:
            raise TypeError(
                "TSJFusionPreprocessor: preprocessor must be a stock preprocessor config with a "
                f"'type', e.g. _base_.model.data_preprocessor; got {preprocessor!r}"
            )
        self.front_end = FusionFrontEnd(**dict(fusion or {}))
        self.preprocessor = MODELS.build(preprocessor)

    def forward(self, data: dict, training: bool = False) -> dict | list:
        """Fuse `data['inputs']` and run the wrapped preprocessor on the fused images."""
        data = self.cast_data(data)
        inputs = data["inputs"]
        inputs = list(inputs.unbind(0)) if isinstance(inputs, torch.Tensor) else list(inputs)
        _check_pair_inputs(inputs)
        fused_rgb, fused_y, losses = self._fuse(inputs, training)
        self._keep_losses(losses)
        data_samples = data.get("data_samples")
        if not training and data_samples is not None:
            for sample, y, rgb in zip(data_samples, fused_y, fused_rgb):
                sample.pred_fusion = PixelData(fused=y.detach(), rgb=rgb.detach())
        fused_images = [rgb_to_bgr255(rgb) for rgb in fused_rgb]
        return self.preprocessor({**data, "inputs": fused_images}, training)

    def _fuse(
        self, inputs: list[torch.Tensor], training: bool
    ) -> tuple[list[torch.Tensor], list[torch.Tensor], dict[str, torch.Tensor]]:
        """Fuse samples of equal size together; losses are averaged over the samples."""
        groups: dict[tuple[int, ...], list[int]] = {}
        for index, sample in enumerate(inputs):
            groups.setdefault(tuple(sample.shape), []).append(index)
        fused_rgb: dict[int, torch.Tensor] = {}
        fused_y: dict[int, torch.Tensor] = {}
        losses: dict[str, torch.Tensor] = {}
        for indices in groups.values():
            pair = torch.stack([inputs[i] for i in indices]).float() / PIXEL_MAX
            batch = self.front_end.fuse_pair(pair, with_loss=training)
            for position, index in enumerate(indices):
                fused_rgb[index], fused_y[index] = batch.rgb[position], batch.fused[position]
            share = len(indices) / len(inputs)
            for name, value in batch.losses.items():
                losses[name] = losses.get(name, 0) + value * share
        order = range(len(inputs))
        return [fused_rgb[i] for i in order], [fused_y[i] for i in order], losses

    def to(self, *args: Any, **kwargs: Any) -> nn.Module:
        """Move to a device, also setting the wrapped preprocessor's device."""
        self.preprocessor.to(*args, **kwargs)
        return super().to(*args, **kwargs)

    def cuda(self, *args: Any, **kwargs: Any) -> nn.Module:
        self.preprocessor.cuda(*args, **kwargs)
        return super().cuda(*args, **kwargs)

    def cpu(self, *args: Any, **kwargs: Any) -> nn.Module:
        self.preprocessor.cpu(*args, **kwargs)
        return super().cpu(*args, **kwargs)
