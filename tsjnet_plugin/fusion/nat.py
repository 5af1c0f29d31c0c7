"""Base branch of TSJNet: a modified NAT-Mini (neighbourhood attention transformer).

``BaseFeatureExtraction`` computes ``x + NAT(LN(x))``. The NAT tokenizer downsamples x4, three
conv downsamplers x2 each, so the deepest level runs at 1/32 of the input; a conv head and three
transposed convs (x4, x4, x2) bring the features back to full resolution. Inputs must therefore
have sides that are multiples of 32, and ``side / 32 >= kernel_size``;
:class:`tsjnet_plugin.fusion.official.TSJNet` pads its inputs to guarantee both.

Module paths follow the official code (``attn.patch_embed.proj.{0,1}``,
``attn.levels.{i}.blocks.{j}.{norm1,attn.{qkv,rpb,proj},norm2,mlp.{fc1,fc2}}``,
``attn.levels.{i}.downsample.{reduction,norm}``, ``attn.{conv1.0,conv2.0,transposed_conv1..3}``).
The official model also instantiates ``norm``, ``avgpool`` and ``conv_head`` that its forward
never uses; they are kept (and documented as unused) only so that official checkpoints load
strictly.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from .attention import Backend, NeighborhoodAttention2D

__all__ = [
    "BaseFeatureExtraction",
    "DropPath",
    "NATLayer",
    "NATLevel",
    "NATMini",
]


class DropPath(nn.Module):
    """Stochastic depth per sample (active in training only)."""

    def __init__(self, drop_prob: float = 0.0) -> None:
        super().__init__()
        self.drop_prob = drop_prob

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.drop_prob == 0.0:
            return x
        keep = 1.0 - self.drop_prob
        mask = x.new_empty((x.shape[0],) + (1,) * (x.ndim - 1)).bernoulli_(keep)
        return x * mask / keep

    def extra_repr(self) -> str:
        return f"drop_prob={self.drop_prob:.3f}"


class ChannelLayerNorm(nn.Module):
    """LayerNorm over channels of a channels-first map (``WithBias_LayerNorm`` of the official code).

    Shapes: ``[B, C, H, W] -> [B, C, H, W]``; biased variance, eps 1e-5. The affine parameters live
    in ``body`` to match the official key names (``norm1.body.{weight,bias}``).
    """

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.body = nn.LayerNorm(channels, eps=1e-5)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)


class ConvTokenizer(nn.Module):
    """Two stride-2 3x3 convs (``C_in -> D/2 -> D``), channels-last output, LayerNorm.

    Shapes: ``[B, C_in, H, W] -> [B, H/4, W/4, D]``.
    """

    def __init__(self, in_channels: int, embed_dim: int) -> None:
        super().__init__()
        self.proj = nn.Sequential(
            nn.Conv2d(in_channels, embed_dim // 2, 3, stride=2, padding=1),
            nn.Conv2d(embed_dim // 2, embed_dim, 3, stride=2, padding=1),
        )
        self.norm = nn.LayerNorm(embed_dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.norm(self.proj(x).permute(0, 2, 3, 1))


class ConvDownsampler(nn.Module):
    """Stride-2 3x3 conv ``D -> 2D`` (no bias) and LayerNorm: ``[B, H, W, D] -> [B, H/2, W/2, 2D]``."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.reduction = nn.Conv2d(dim, 2 * dim, 3, stride=2, padding=1, bias=False)
        self.norm = nn.LayerNorm(2 * dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.norm(self.reduction(x.permute(0, 3, 1, 2)).permute(0, 2, 3, 1))


class Mlp(nn.Module):
    """``Linear -> GELU -> Linear`` on channels-last tokens."""

    def __init__(self, dim: int, hidden_dim: int) -> None:
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden_dim)
        self.act = nn.GELU()
        self.fc2 = nn.Linear(hidden_dim, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(self.act(self.fc1(x)))


class NATLayer(nn.Module):
    """Pre-norm transformer layer: ``x + DropPath(NA(LN(x)))``, then ``x + DropPath(MLP(LN(x)))``.

    Shapes: ``[B, H, W, D] -> [B, H, W, D]``.
    """

    def __init__(
        self,
        dim: int,
        num_heads: int,
        kernel_size: int,
        mlp_ratio: float,
        drop_path: float,
        rpb: bool,
        backend: Backend,
    ) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(dim)
        self.attn = NeighborhoodAttention2D(dim, num_heads, kernel_size, rpb=rpb, backend=backend)
        self.drop_path = DropPath(drop_path)
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = Mlp(dim, int(dim * mlp_ratio))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.drop_path(self.attn(self.norm1(x)))
        return x + self.drop_path(self.mlp(self.norm2(x)))


class NATLevel(nn.Module):
    """``depth`` NAT layers at one resolution, then an optional :class:`ConvDownsampler`."""

    def __init__(
        self,
        dim: int,
        depth: int,
        num_heads: int,
        kernel_size: int,
        mlp_ratio: float,
        drop_paths: Sequence[float],
        downsample: bool,
        rpb: bool,
        backend: Backend,
    ) -> None:
        super().__init__()
        self.blocks = nn.ModuleList(
            NATLayer(dim, num_heads, kernel_size, mlp_ratio, drop_paths[i], rpb, backend)
            for i in range(depth)
        )
        self.downsample = ConvDownsampler(dim) if downsample else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for block in self.blocks:
            x = block(x)
        return x if self.downsample is None else self.downsample(x)


class NATMini(nn.Module):
    """TSJNet's NAT-Mini: tokenizer, four NAT levels, conv head, x32 transposed-conv upsampling.

    Args:
        in_channels: channels ``C`` of the input and of the output (official 64).
        embed_dim: level-0 width ``D`` (official 64); level ``i`` has ``D * 2**i`` channels.
        depths: layers per level (official ``(3, 4, 6, 5)``).
        num_heads: heads per level (official ``(2, 4, 8, 16)``).
        kernel_size: neighbourhood size (official 7).
        mlp_ratio: MLP hidden width over ``dim`` (official 3).
        drop_path_rate: stochastic depth, linear from 0 over all layers (official 0.2).
        rpb: relative position bias in every attention layer (official True).
        backend: neighbourhood-attention backend.

    Shapes: ``[B, C, H, W] -> [B, C, H, W]`` in ``[0, 6]`` (ReLU6); ``H, W`` multiples of 32 and
    ``H / 32, W / 32 >= kernel_size``.
    """

    stride = 32

    def __init__(
        self,
        in_channels: int = 64,
        embed_dim: int = 64,
        depths: Sequence[int] = (3, 4, 6, 5),
        num_heads: Sequence[int] = (2, 4, 8, 16),
        kernel_size: int = 7,
        mlp_ratio: float = 3.0,
        drop_path_rate: float = 0.2,
        rpb: bool = True,
        backend: Backend = "auto",
    ) -> None:
        super().__init__()
        if len(depths) != 4 or len(num_heads) != 4:
            raise ValueError(
                f"NAT-Mini has 4 levels (x32 in total); got depths={tuple(depths)}, "
                f"num_heads={tuple(num_heads)}"
            )
        self.kernel_size = kernel_size
        self.patch_embed = ConvTokenizer(in_channels, embed_dim)
        total = sum(depths)
        rates = [drop_path_rate * i / max(total - 1, 1) for i in range(total)]
        self.levels = nn.ModuleList()
        for i, (depth, heads) in enumerate(zip(depths, num_heads)):
            first = sum(depths[:i])
            self.levels.append(
                NATLevel(
                    embed_dim * 2**i,
                    depth,
                    heads,
                    kernel_size,
                    mlp_ratio,
                    rates[first : first + depth],
                    downsample=i < 3,
                    rpb=rpb,
                    backend=backend,
                )
            )
        # Unused by the forward pass in the official model; kept (frozen) for strict checkpoint
        # loading, so that optimizers and DDP never see parameters without gradients.
        self.norm = nn.LayerNorm(in_channels)
        self.avgpool = nn.Conv2d(in_channels, in_channels, 1)
        self.conv_head = nn.Conv2d(in_channels, in_channels, 1)
        deepest = embed_dim * 8
        self.conv1 = nn.Sequential(
            nn.Conv2d(deepest, 2 * embed_dim, 3, padding=1), nn.ReLU6(inplace=True)
        )
        self.conv2 = nn.Sequential(
            nn.Conv2d(2 * embed_dim, in_channels, 3, padding=1), nn.ReLU6(inplace=True)
        )
        self.transposed_conv1 = nn.ConvTranspose2d(
            in_channels, in_channels, 4, stride=4, bias=False
        )
        self.transposed_conv2 = nn.ConvTranspose2d(
            in_channels, in_channels, 4, stride=4, bias=False
        )
        self.transposed_conv3 = nn.ConvTranspose2d(
            in_channels, in_channels, 2, stride=2, bias=False
        )
        self.act = nn.ReLU6()
        self.apply(self._init_weights)
        for unused in (self.norm, self.avgpool, self.conv_head):
            unused.requires_grad_(False)

    @staticmethod
    def _init_weights(module: nn.Module) -> None:
        if isinstance(module, nn.Linear):
            nn.init.trunc_normal_(module.weight, std=0.02)
            if module.bias is not None:
                nn.init.zeros_(module.bias)
        elif isinstance(module, nn.LayerNorm):
            nn.init.ones_(module.weight)
            nn.init.zeros_(module.bias)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """``[B, C, H, W] -> [B, H/32, W/32, 8D]`` (channels-last)."""
        x = self.patch_embed(x)
        for level in self.levels:
            x = level(x)
        return x

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        height, width = x.shape[-2:]
        if height % self.stride or width % self.stride:
            raise ValueError(f"NAT-Mini needs sides that are multiples of 32, got {height}x{width}")
        x = self.forward_features(x).permute(0, 3, 1, 2)
        x = self.conv2(self.conv1(x))
        x = self.transposed_conv3(self.transposed_conv2(self.transposed_conv1(x)))
        return self.act(x)


class BaseFeatureExtraction(nn.Module):
    """Base (global) branch: ``x + NATMini(ChannelLayerNorm(x))``; ``[B, C, H, W] -> [B, C, H, W]``.

    Keyword arguments are passed to :class:`NATMini`.
    """

    def __init__(self, channels: int = 64, **nat_kwargs) -> None:
        super().__init__()
        self.norm1 = ChannelLayerNorm(channels)
        self.attn = NATMini(in_channels=channels, **nat_kwargs)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.attn(self.norm1(x))
