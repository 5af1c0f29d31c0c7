"""The TSJNet fusion network (state-dict compatible with the official code) and its variants.

The network fuses one infrared image and the luminance (Y) of one visible image, both
``[B, 1, H, W]`` in ``[0, 1]``, into a fused Y ``[B, 1, H, W]`` in ``(0, 1)``:

1. a shared encoder maps each modality to base (NAT) and detail (COA) features;
2. ``base_fuse(base_ir + base_vis)`` and ``detail_fuse(detail_ir + detail_vis)`` merge them;
3. the decoder gates ``[base, detail]`` with 8-head spatial attention and decodes to an image.

The four sub-modules ``encoder``, ``decoder``, ``base_fuse`` and ``detail_fuse`` have exactly the
key layout of the official checkpoint parts ``DIDF_Encoder``, ``DIDF_Decoder``,
``BaseFuseLayer`` and ``DetailFuseLayer`` (see :mod:`tsjnet_plugin.fusion.checkpoint`).
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any, NamedTuple

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.checkpoint import checkpoint

from .attention import BACKENDS
from .blocks import ResNeStTrunk
from .detail import DetailFeatureExtraction, GroupSpatialAttention
from .nat import BaseFeatureExtraction, NATMini

__all__ = [
    "ARCHS",
    "RUNTIME_OPTIONS",
    "FusionOutput",
    "TSJNet",
    "TSJNetConfig",
    "TSJNetDecoder",
    "TSJNetEncoder",
    "build_fusion_model",
    "nat_kwargs",
    "pad_to",
]

# TSJNetConfig fields that change how the network runs but not its parameters: a checkpoint loads
# into a model that differs from it only in these.
RUNTIME_OPTIONS = ("attention_backend", "pad_mode", "border", "drop_path_rate", "with_cp")


@dataclass(frozen=True)
class TSJNetConfig:
    """Hyper-parameters of :class:`TSJNet`; the defaults are the official architecture.

    Attributes:
        feat_dim: width of the shallow feature and of the base/detail branches (official 64).
        trunk_planes: bottleneck width of both ResNeSt-lite trunks; they output
            ``4 * trunk_planes`` channels (official 128 -> 512).
        trunk_blocks: bottlenecks per trunk (official 2).
        nat_embed_dim: NAT level-0 width (official 64).
        nat_depths: NAT layers per level (official (3, 4, 6, 5)).
        nat_heads: NAT heads per level (official (2, 4, 8, 16)).
        kernel_size: neighbourhood-attention window (official 7).
        mlp_ratio: NAT MLP ratio (official 3).
        drop_path_rate: NAT stochastic depth (official 0.2).
        rpb: relative position bias in neighbourhood attention (official True).
        decoder_dim: channels after the decoder's 1x1 reduction (official 32).
        decoder_heads: heads of the decoder's group spatial attention (official 8).
        attention_backend: "auto", "torch", "natten" or "flex" (see ``fusion.attention``).
        pad_mode: how inputs are padded to the size NAT needs: "reflect" or "replicate".
        border: pixels of ``pad_mode`` margin added on every side before the network and
            cropped from every output (official 0). The fusion loss, computed with zero-padded
            Sobel and SSIM windows, teaches the network a bright one-to-two-pixel frame at
            image borders; a margin moves that frame outside the cropped result.
        with_cp: activation checkpointing (``torch.utils.checkpoint``, non-reentrant) of both
            encoder passes, both fusion branches and every decoder pass while training with
            gradients: their activations are recomputed in the backward pass instead of kept,
            which trades compute for memory. Does not change results.
    """

    feat_dim: int = 64
    trunk_planes: int = 128
    trunk_blocks: int = 2
    nat_embed_dim: int = 64
    nat_depths: tuple[int, ...] = (3, 4, 6, 5)
    nat_heads: tuple[int, ...] = (2, 4, 8, 16)
    kernel_size: int = 7
    mlp_ratio: float = 3.0
    drop_path_rate: float = 0.2
    rpb: bool = True
    decoder_dim: int = 32
    decoder_heads: int = 8
    attention_backend: str = "auto"
    pad_mode: str = "reflect"
    border: int = 0
    with_cp: bool = False

    def __post_init__(self) -> None:
        if self.attention_backend not in BACKENDS:
            raise ValueError(
                f"attention_backend must be one of {BACKENDS}, got {self.attention_backend!r}"
            )
        if self.pad_mode not in ("reflect", "replicate"):
            raise ValueError(f"pad_mode must be 'reflect' or 'replicate', got {self.pad_mode!r}")
        if self.border < 0:
            raise ValueError(f"border must be >= 0, got {self.border}")
        object.__setattr__(self, "nat_depths", tuple(self.nat_depths))
        object.__setattr__(self, "nat_heads", tuple(self.nat_heads))

    @property
    def min_side(self) -> int:
        """Smallest padded side: the deepest NAT map (1/32) must hold one attention window."""
        return NATMini.stride * self.kernel_size

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


ARCHS: dict[str, TSJNetConfig] = {
    # The official TSJNet (about 45.1 M parameters).
    "official": TSJNetConfig(),
    # Reduced width and depth, same code: for CPU experiments.
    "small": TSJNetConfig(
        feat_dim=32,
        trunk_planes=32,
        nat_embed_dim=32,
        nat_depths=(2, 2, 2, 2),
        nat_heads=(1, 2, 4, 8),
        kernel_size=5,
        decoder_dim=16,
    ),
    # CPU-speed TSJNet (about 0.87 M parameters): the same modules, a thin full-resolution
    # trunk (8-plane bottleneck, one block, 16 feature channels) and a shallow NAT (kernel 5,
    # RPB) that runs from 1/4 to 1/32 of the input. Trained weights ship as
    # "tsjnet_fast_roadscene" (docs/model_zoo.md).
    "fast": TSJNetConfig(
        feat_dim=16,
        trunk_planes=8,
        trunk_blocks=1,
        nat_embed_dim=16,
        nat_depths=(1, 1, 2, 1),
        nat_heads=(1, 2, 4, 8),
        kernel_size=5,
        drop_path_rate=0.1,
        decoder_dim=16,
        border=8,
    ),
    # Minimal variant for unit tests and the CPU demo (inputs of 96x96 need no padding).
    "tiny": TSJNetConfig(
        feat_dim=8,
        trunk_planes=8,
        nat_embed_dim=8,
        nat_depths=(1, 1, 1, 1),
        nat_heads=(1, 1, 2, 2),
        kernel_size=3,
        decoder_dim=8,
    ),
}


class PatchEmbed(nn.Module):
    """Learned gray-to-3-channel lift: Conv3x3 ``1 -> 3``, no bias (official ``patch_embed``)."""

    def __init__(self, in_channels: int = 1, out_channels: int = 3) -> None:
        super().__init__()
        self.proj = nn.Conv2d(in_channels, out_channels, 3, padding=1, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.proj(x)


def _conv_relu6(in_channels: int, out_channels: int) -> nn.Sequential:
    """Conv3x3 (bias) followed by ReLU6."""
    return nn.Sequential(nn.Conv2d(in_channels, out_channels, 3, padding=1), nn.ReLU6(inplace=True))


def nat_kwargs(cfg: TSJNetConfig) -> dict[str, Any]:
    """Keyword arguments of :class:`NATMini` taken from ``cfg``."""
    return dict(
        embed_dim=cfg.nat_embed_dim,
        depths=cfg.nat_depths,
        num_heads=cfg.nat_heads,
        kernel_size=cfg.kernel_size,
        mlp_ratio=cfg.mlp_ratio,
        drop_path_rate=cfg.drop_path_rate,
        rpb=cfg.rpb,
        backend=cfg.attention_backend,
    )


class TSJNetEncoder(nn.Module):
    """Shared encoder (official ``Restormer_Encoder``/``DIDF_Encoder``).

    Shapes: ``[B, 1, H, W]`` -> ``(base, detail, shallow)``, each ``[B, feat_dim, H, W]``.
    """

    def __init__(self, cfg: TSJNetConfig) -> None:
        super().__init__()
        planes = cfg.trunk_planes
        self.patch_embed = PatchEmbed(1, 3)
        self.ResNest = ResNeStTrunk(3, planes, cfg.trunk_blocks)
        self.conv1 = _conv_relu6(4 * planes, 2 * planes)
        self.conv2 = _conv_relu6(2 * planes, planes)
        self.conv3 = _conv_relu6(planes, cfg.feat_dim)
        self.baseFeature = BaseFeatureExtraction(cfg.feat_dim, **nat_kwargs(cfg))
        self.detailFeature = DetailFeatureExtraction(cfg.feat_dim)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        shallow = self.conv3(self.conv2(self.conv1(self.ResNest(self.patch_embed(x)))))
        return self.baseFeature(shallow), self.detailFeature(shallow), shallow


class TSJNetDecoder(nn.Module):
    """Shared decoder (official ``Restormer_Decoder``/``DIDF_Decoder``).

    Shapes: ``base, detail [B, feat_dim, H, W]`` -> ``(image [B, 1, H, W] in (0, 1),
    attention [B, decoder_heads, H, W] in (0, 1))``.
    """

    def __init__(self, cfg: TSJNetConfig) -> None:
        super().__init__()
        planes = cfg.trunk_planes
        self.spa = GroupSpatialAttention(2 * cfg.feat_dim, cfg.decoder_heads)
        self.reduce_channel = nn.Conv2d(2 * cfg.feat_dim, cfg.decoder_dim, 1, bias=False)
        self.ResNest = ResNeStTrunk(cfg.decoder_dim, planes, cfg.trunk_blocks)
        self.output = nn.Sequential(
            nn.Conv2d(4 * planes, 2 * planes, 3, padding=1, bias=False),
            nn.LeakyReLU(),
            nn.Conv2d(2 * planes, 1, 3, padding=1, bias=False),
        )

    def forward(
        self, base: torch.Tensor, detail: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        gated, attention = self.spa(torch.cat([base, detail], dim=1))
        image = torch.sigmoid(self.output(self.ResNest(self.reduce_channel(gated))))
        return image, attention


class FusionOutput(NamedTuple):
    """Everything the fusion losses need; all cropped back to the input size ``H x W``.

    Attributes:
        fused: ``[B, 1, H, W]`` fused Y in (0, 1).
        attention: ``[B, decoder_heads, H, W]`` decoder spatial attention of the fused pass.
        recon_vis: ``[B, 1, H, W]`` visible Y reconstructed from its own features.
        recon_ir: ``[B, 1, H, W]`` infrared reconstructed from its own features.
    """

    fused: torch.Tensor
    attention: torch.Tensor
    recon_vis: torch.Tensor
    recon_ir: torch.Tensor


def pad_to(x: torch.Tensor, height: int, width: int, mode: str) -> torch.Tensor:
    """Pad ``[B, C, h, w]`` at the bottom/right to ``[B, C, height, width]``.

    Reflect padding cannot exceed ``side - 1`` at once, so it is applied repeatedly when the
    target is much larger than the input; a side of one pixel is replicated.
    """
    while x.shape[-1] < width:
        w = x.shape[-1]
        step = min(width - w, w - 1) if mode == "reflect" and w > 1 else width - w
        x = F.pad(x, (0, step, 0, 0), mode=mode if w > 1 else "replicate")
    while x.shape[-2] < height:
        h = x.shape[-2]
        step = min(height - h, h - 1) if mode == "reflect" and h > 1 else height - h
        x = F.pad(x, (0, 0, 0, step), mode=mode if h > 1 else "replicate")
    return x


def _pad_border(x: torch.Tensor, border: int, mode: str) -> torch.Tensor:
    """Pad ``[B, C, h, w]`` by ``border`` pixels on every side (``mode``; replicate where a side is
    too short to reflect)."""
    if border == 0:
        return x
    if mode == "reflect" and min(x.shape[-2:]) <= border:
        mode = "replicate"
    return F.pad(x, (border,) * 4, mode=mode)


class TSJNet(nn.Module):
    """TSJNet fusion network.

    Any input size works: inputs are padded at the bottom/right (``cfg.pad_mode``, reflect by
    default) to sides that are multiples of 32 and at least ``32 * kernel_size`` (224 px for the
    official kernel 7, so that the deepest NAT map holds one 7x7 window), and every output is
    cropped back (``cfg.border`` adds a margin on every side first). Unlike the official
    inference, nothing is resized.

    Args:
        cfg: architecture; see :data:`ARCHS` for presets.
    """

    def __init__(self, cfg: TSJNetConfig | None = None) -> None:
        super().__init__()
        self.cfg = cfg or TSJNetConfig()
        self.encoder = TSJNetEncoder(self.cfg)
        self.decoder = TSJNetDecoder(self.cfg)
        self.base_fuse = BaseFeatureExtraction(self.cfg.feat_dim, **nat_kwargs(self.cfg))
        self.detail_fuse = DetailFeatureExtraction(self.cfg.feat_dim)

    def padded_size(self, height: int, width: int) -> tuple[int, int]:
        """Size an ``height x width`` input is padded to before the network runs."""

        def side(n: int) -> int:
            n += 2 * self.cfg.border
            return max(math.ceil(n / NATMini.stride) * NATMini.stride, self.cfg.min_side)

        return side(height), side(width)

    def _run(self, module: nn.Module, *inputs: torch.Tensor) -> Any:
        """``module(*inputs)``, under activation checkpointing when ``cfg.with_cp`` is set and
        the network trains with gradients enabled."""
        if self.cfg.with_cp and self.training and torch.is_grad_enabled():
            return checkpoint(module, *inputs, use_reentrant=False)
        return module(*inputs)

    @staticmethod
    def _check_inputs(ir: torch.Tensor, vis_y: torch.Tensor) -> None:
        for name, t in (("ir", ir), ("vis_y", vis_y)):
            if not isinstance(t, torch.Tensor) or t.ndim != 4 or t.shape[1] != 1:
                shape = tuple(t.shape) if isinstance(t, torch.Tensor) else type(t).__name__
                raise ValueError(f"{name} must be a [B, 1, H, W] tensor, got {shape}")
            if not t.is_floating_point():
                raise TypeError(f"{name} must be a float tensor in [0, 1], got dtype {t.dtype}")
        if ir.shape != vis_y.shape:
            raise ValueError(f"ir {tuple(ir.shape)} and vis_y {tuple(vis_y.shape)} differ in shape")

    def forward(
        self, ir: torch.Tensor, vis_y: torch.Tensor, with_aux: bool = False
    ) -> torch.Tensor | FusionOutput:
        """Fuse a batch of pairs.

        Args:
            ir: ``[B, 1, H, W]`` infrared, float in [0, 1].
            vis_y: ``[B, 1, H, W]`` visible luminance (BT.601 Y), float in [0, 1].
            with_aux: also return the attention map and both reconstructions (for training).

        Returns:
            The fused Y ``[B, 1, H, W]`` in (0, 1), or a :class:`FusionOutput` if ``with_aux``.
        """
        self._check_inputs(ir, vis_y)
        height, width = ir.shape[-2:]
        padded = self.padded_size(height, width)
        vis_p = pad_to(
            _pad_border(vis_y, self.cfg.border, self.cfg.pad_mode), *padded, mode=self.cfg.pad_mode
        )
        ir_p = pad_to(
            _pad_border(ir, self.cfg.border, self.cfg.pad_mode), *padded, mode=self.cfg.pad_mode
        )
        base_vis, detail_vis, _ = self._run(self.encoder, vis_p)
        base_ir, detail_ir, _ = self._run(self.encoder, ir_p)
        fused_base = self._run(self.base_fuse, base_ir + base_vis)
        fused_detail = self._run(self.detail_fuse, detail_ir + detail_vis)
        fused, attention = self._run(self.decoder, fused_base, fused_detail)

        top = self.cfg.border

        def crop(t: torch.Tensor) -> torch.Tensor:
            return t[..., top : top + height, top : top + width]

        if not with_aux:
            return crop(fused)
        recon_vis, _ = self._run(self.decoder, base_vis, detail_vis)
        recon_ir, _ = self._run(self.decoder, base_ir, detail_ir)
        return FusionOutput(crop(fused), crop(attention), crop(recon_vis), crop(recon_ir))


def build_fusion_model(
    arch: str = "official", pretrained: bool = False, **overrides: Any
) -> TSJNet:
    """Build a :class:`TSJNet` from a preset in :data:`ARCHS`, with field overrides.

    Args:
        arch: the preset.
        pretrained: load the weights shipped for ``arch``
            (:data:`~tsjnet_plugin.fusion.pretrained.DEFAULT_WEIGHTS`); only the non-structural
            overrides of :data:`RUNTIME_OPTIONS` may be given then.
        overrides: :class:`TSJNetConfig` fields.

    Example: ``build_fusion_model("fast", pretrained=True)``,
    ``build_fusion_model("official", rpb=False, attention_backend="natten")``,
    ``build_fusion_model("official", with_cp=True)`` (activation checkpointing for training).
    """
    if arch not in ARCHS:
        raise ValueError(f"unknown fusion arch {arch!r}; choose from {sorted(ARCHS)}")
    known = {f.name for f in dataclasses.fields(TSJNetConfig)}
    unknown = sorted(set(overrides) - known)
    if unknown:
        raise ValueError(f"unknown TSJNet option(s) {unknown}; valid options: {sorted(known)}")
    model = TSJNet(dataclasses.replace(ARCHS[arch], **overrides))
    if pretrained:
        from .checkpoint import load_checkpoint
        from .pretrained import DEFAULT_WEIGHTS

        if arch not in DEFAULT_WEIGHTS:
            raise ValueError(
                f"no shipped weights for arch {arch!r}; shipped for: {sorted(DEFAULT_WEIGHTS)}"
            )
        load_checkpoint(model, DEFAULT_WEIGHTS[arch])
    return model
