"""ResNeSt-lite split-attention trunk of TSJNet (full resolution, no downsampling).

Module paths follow the official ``net.py`` so that official checkpoints load strictly:
``deep_stem.{0,1,3,4,6,7}``, ``layer1.{i}.conv1``, ``.conv2.{radix_conv,fc1,fc2}``, ``.conv3``,
``layer1.0.shortcut.{1,2}``.
"""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["Bottleneck", "ResNeStTrunk", "SplitAttentionBlock"]


def _conv_bn_relu(
    in_channels: int, out_channels: int, kernel_size: int, bias: bool = True
) -> nn.Sequential:
    """``Conv(k, same padding) -> BatchNorm -> ReLU`` (indices 0, 1, 2)."""
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, kernel_size, padding=kernel_size // 2, bias=bias),
        nn.BatchNorm2d(out_channels),
        nn.ReLU(inplace=True),
    )


class RadixSoftmax(nn.Module):
    """Softmax over the radix axis of a ``[B, radix * C, 1, 1]`` attention vector (cardinality 1).

    Channel ``r * C + c`` is the weight of split ``r`` for channel ``c``.
    """

    def __init__(self, radix: int) -> None:
        super().__init__()
        self.radix = radix

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        batch = x.size(0)
        return x.view(batch, self.radix, -1).softmax(dim=1).view(batch, -1, 1, 1)


class SplitAttentionBlock(nn.Module):
    """ResNeSt split attention (radix 2, cardinality 1) as in the official code.

    Differs from ResNeSt proper in that ``fc2`` has no bias and is followed by BatchNorm and ReLU
    before the radix softmax (the official choice, kept for checkpoint compatibility).

    Args:
        in_channels: input channels ``C_in``.
        channels: output channels ``C``.
        radix: number of splits.
        reduction_factor: ``fc1`` width is ``max(32, C_in * radix // reduction_factor)``.

    Shapes: ``[B, C_in, H, W] -> [B, C, H, W]`` (non-negative).
    """

    def __init__(
        self, in_channels: int, channels: int, radix: int = 2, reduction_factor: int = 4
    ) -> None:
        super().__init__()
        self.radix = radix
        inter_channels = max(32, in_channels * radix // reduction_factor)
        self.radix_conv = nn.Sequential(
            nn.Conv2d(in_channels, channels * radix, 3, padding=1, groups=radix),
            nn.BatchNorm2d(channels * radix),
            nn.ReLU(inplace=True),
        )
        self.fc1 = nn.Sequential(
            nn.Conv2d(channels, inter_channels, 1, bias=False),
            nn.BatchNorm2d(inter_channels),
            nn.ReLU(inplace=True),
        )
        self.fc2 = nn.Sequential(
            nn.Conv2d(inter_channels, channels * radix, 1, bias=False),
            nn.BatchNorm2d(channels * radix),
            nn.ReLU(inplace=True),
        )
        self.rsoftmax = RadixSoftmax(radix)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        splits = self.radix_conv(x).chunk(self.radix, dim=1)
        pooled = sum(splits).mean(dim=(2, 3), keepdim=True)
        weights = self.rsoftmax(self.fc2(self.fc1(pooled))).chunk(self.radix, dim=1)
        return sum(split * weight for split, weight in zip(splits, weights))


class Bottleneck(nn.Module):
    """Split-attention bottleneck with expansion 4: ``[B, C_in, H, W] -> [B, 4 * planes, H, W]``.

    The projection shortcut (``MaxPool(3, s1) -> Conv1x1 -> BN``, official) is used when
    ``C_in != 4 * planes``; otherwise the shortcut is the identity.
    """

    expansion = 4

    def __init__(self, in_planes: int, planes: int) -> None:
        super().__init__()
        out_planes = planes * self.expansion
        self.conv1 = nn.Sequential(
            nn.Conv2d(in_planes, planes, 1), nn.BatchNorm2d(planes), nn.ReLU(inplace=True)
        )
        self.conv2 = SplitAttentionBlock(planes, planes)
        self.conv3 = nn.Sequential(nn.Conv2d(planes, out_planes, 1), nn.BatchNorm2d(out_planes))
        if in_planes != out_planes:
            self.shortcut = nn.Sequential(
                nn.MaxPool2d(kernel_size=3, stride=1, padding=1),
                nn.Conv2d(in_planes, out_planes, 1, bias=False),
                nn.BatchNorm2d(out_planes),
            )
        else:
            self.shortcut = nn.Identity()
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.relu(self.shortcut(x) + self.conv3(self.conv2(self.conv1(x))))


class ResNeStTrunk(nn.Module):
    """Full-resolution ResNeSt-lite trunk (``ResNest``/``ResNest2`` in the official code).

    Deep stem ``C_in -> planes/2 -> planes/2 -> planes`` (3x3 convs, stride 1, BN, ReLU), then
    ``num_blocks`` bottlenecks of width ``planes``. Official: ``planes=128`` (512 output channels),
    two blocks.

    Shapes: ``[B, C_in, H, W] -> [B, 4 * planes, H, W]``.
    """

    def __init__(self, in_channels: int, planes: int = 128, num_blocks: int = 2) -> None:
        super().__init__()
        stem = planes // 2
        self.deep_stem = nn.Sequential(
            *_conv_bn_relu(in_channels, stem, 3),
            *_conv_bn_relu(stem, stem, 3),
            *_conv_bn_relu(stem, planes, 3),
        )
        blocks = [Bottleneck(planes, planes)]
        blocks += [Bottleneck(planes * Bottleneck.expansion, planes) for _ in range(num_blocks - 1)]
        self.layer1 = nn.Sequential(*blocks)
        self.out_channels = planes * Bottleneck.expansion

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layer1(self.deep_stem(x))
