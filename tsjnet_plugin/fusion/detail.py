"""Detail (local) branch of TSJNet and the decoder's group spatial attention.

Module paths follow the official code: ``coa.conv.0``, ``spa.conv.{0..7}``, ``convp1.{0,1}``,
``convp2.{0,1}``, ``conv1.1``, ``conv4``, ``conv_transpose``, ``fc1``, ``fc2``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["COA", "DetailFeatureExtraction", "GroupSpatialAttention"]


class GroupSpatialAttention(nn.Module):
    """Multi-head spatial gating: channel group ``k`` is multiplied by ``sigmoid(Conv1x1(group_k))``.

    Args:
        channels: input channels ``C``, divisible by ``num_heads``.
        num_heads: number of groups/heads ``K``.

    Returns ``(gated [B, C, H, W], attention [B, K, H, W] in (0, 1))``.
    """

    def __init__(self, channels: int, num_heads: int = 8) -> None:
        super().__init__()
        if channels % num_heads:
            raise ValueError(f"channels={channels} is not divisible by num_heads={num_heads}")
        self.num_heads = num_heads
        self.conv = nn.ModuleList(nn.Conv2d(channels // num_heads, 1, 1) for _ in range(num_heads))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        # The K per-group 1x1 convs run as one grouped conv (same result, one pass over x).
        weight = torch.cat([conv.weight for conv in self.conv])
        bias = torch.cat([conv.bias for conv in self.conv])
        maps = torch.sigmoid(F.conv2d(x, weight, bias, groups=self.num_heads))
        gates = maps.repeat_interleave(x.shape[1] // self.num_heads, dim=1)
        return x * gates, maps


class COA(nn.Module):
    """Residual 1x1 conv: ``x + ReLU(Conv1x1(x))`` (the live form of the official COA)."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.conv = nn.Sequential(nn.Conv2d(channels, channels, 1), nn.ReLU(inplace=True))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv(x)


class DetailFeatureExtraction(nn.Module):
    """Detail branch ("DSM"/COA): a conv-COA chain plus pooled channel attention, summed.

    Path A: ``Conv3x3-BN-ReLU -> COA -> Conv3x3-BN-ReLU -> Dropout2d(0.1) -> Conv1x1``.
    Path B: ``t = LeakyReLU_0.2(Conv3x3(x))``; ``p = MaxPool2(t) + AvgPool2(t)``;
    ``p * sigmoid(FC(ReLU(FC(GAP(p)))))``; ``ConvTranspose(k2, s2)``.

    Args:
        channels: ``C`` (official 64).
        spa_heads: heads of the unused ``spa`` member, kept for strict checkpoint loading.

    Shapes: ``[B, C, H, W] -> [B, C, H, W]``; ``H, W`` even.
    """

    def __init__(self, channels: int = 64, spa_heads: int = 8) -> None:
        super().__init__()
        self.coa = COA(channels)
        # Never called by the official forward; kept (frozen) so that official checkpoints load
        # strictly.
        self.spa = GroupSpatialAttention(channels, spa_heads).requires_grad_(False)
        self.convp1 = nn.Sequential(
            nn.Conv2d(channels, channels, 3, padding=1, bias=False),
            nn.BatchNorm2d(channels),
            nn.ReLU(),
        )
        self.convp2 = nn.Sequential(
            nn.Conv2d(channels, channels, 3, padding=1, bias=False),
            nn.BatchNorm2d(channels),
            nn.ReLU(),
        )
        self.conv1 = nn.Sequential(nn.Dropout2d(0.1), nn.Conv2d(channels, channels, 1))
        self.conv4 = nn.Conv2d(channels, channels, 3, padding=1)
        self.conv_transpose = nn.ConvTranspose2d(channels, channels, 2, stride=2)
        self.fc1 = nn.Linear(channels, channels // 2, bias=False)
        self.fc2 = nn.Linear(channels // 2, channels, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[-2] % 2 or x.shape[-1] % 2:
            raise ValueError(f"the detail branch needs even sides, got {tuple(x.shape[-2:])}")
        path_a = self.conv1(self.convp2(self.coa(self.convp1(x))))
        t = F.leaky_relu(self.conv4(x), negative_slope=0.2)
        pooled = F.max_pool2d(t, 2, ceil_mode=True) + F.avg_pool2d(t, 2, ceil_mode=True)
        weights = torch.sigmoid(self.fc2(F.relu(self.fc1(pooled.mean(dim=(2, 3))))))
        path_b = self.conv_transpose(pooled * weights[:, :, None, None])
        return path_a + path_b
