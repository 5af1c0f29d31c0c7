"""TSJNet fusion losses, with the official weights as defaults.

All images are ``[B, 1, H, W]`` float in [0, 1]; every "mean" is over all elements of the batch.

* intensity: ``mean |F - max(V, I)|``;
* gradient: ``mean |grad F - max(grad V, grad I)|`` with the Sobel magnitude ``|Kx*x| + |Ky*x|``;
* SSIM: ``1 - (w_V SSIM(V, F) + w_I SSIM(I, F))``, ``w`` from the mean Sobel magnitudes;
* attention diversity: ``mean(1 - max_k A_k) + mean(A)`` on the decoder attention;
* reconstruction: ``MSE(V, V_hat)`` and ``MSE(I, I_hat)``.

Official total: ``20 int + 20 grad + 10 ssim + 0.1 div + 6 rec_vis + 1 rec_ir``.

Padding (``padding``): the official loss zero-pads its Sobel and SSIM convolutions, so an image
border looks like a strong edge next to black; the network learns a bright frame to match it.
``"reflect"`` pads by reflection instead: equal to the official terms away from the border
(more than 1 pixel for Sobel, 5 for SSIM) and without the border bias (a constant image has
zero gradient everywhere). The official preset keeps ``"zeros"``; every other preset trains
with ``"reflect"`` (:func:`default_loss_padding`; docs/deviations.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

from .official import FusionOutput

__all__ = [
    "AttentionDiversityLoss",
    "FusionLossWeights",
    "GradientLoss",
    "GradientWeightedSSIMLoss",
    "IntensityLoss",
    "LossPadding",
    "TSJFusionLoss",
    "default_loss_padding",
    "gaussian_window",
    "sobel_magnitude",
    "ssim",
    "ssim_map",
]

SOBEL_X = ((-1.0, 0.0, 1.0), (-2.0, 0.0, 2.0), (-1.0, 0.0, 1.0))
SOBEL_Y = ((1.0, 2.0, 1.0), (0.0, 0.0, 0.0), (-1.0, -2.0, -1.0))

LossPadding = Literal["zeros", "reflect"]


def default_loss_padding(arch: str) -> LossPadding:
    """The loss padding a preset trains with: ``"zeros"`` (official) for ``"official"``,
    ``"reflect"`` for the others."""
    return "zeros" if arch == "official" else "reflect"


def _same_conv(x: torch.Tensor, kernels: torch.Tensor, padding: LossPadding) -> torch.Tensor:
    """``conv2d`` with an odd square kernel and "same" output size, padded by ``padding``."""
    if padding not in ("zeros", "reflect"):
        raise ValueError(f"loss padding must be 'zeros' or 'reflect', got {padding!r}")
    pad = kernels.shape[-1] // 2
    if padding == "zeros":
        return F.conv2d(x, kernels, padding=pad)
    if min(x.shape[-2:]) <= pad:
        raise ValueError(
            f"reflect padding of {pad} needs images larger than {pad} pixels, got "
            f"{tuple(x.shape[-2:])}"
        )
    return F.conv2d(F.pad(x, (pad,) * 4, mode="reflect"), kernels)


def sobel_magnitude(x: torch.Tensor, padding: LossPadding = "zeros") -> torch.Tensor:
    """``|Kx * x| + |Ky * x|``: ``[B, 1, H, W] -> [B, 1, H, W]`` (>= 0), padded by ``padding``."""
    kernels = torch.tensor((SOBEL_X, SOBEL_Y), dtype=x.dtype, device=x.device).unsqueeze(1)
    return _same_conv(x, kernels, padding).abs().sum(dim=1, keepdim=True)


def gaussian_window(
    size: int = 11, sigma: float = 1.5, dtype=torch.float32, device=None
) -> torch.Tensor:
    """Normalised 2-D Gaussian window ``[1, 1, size, size]``."""
    coords = torch.arange(size, dtype=dtype, device=device) - (size - 1) / 2
    g = torch.exp(-(coords**2) / (2 * sigma**2))
    g = g / g.sum()
    return (g[:, None] * g[None, :])[None, None]


def ssim_map(
    x: torch.Tensor,
    y: torch.Tensor,
    window_size: int = 11,
    sigma: float = 1.5,
    padding: LossPadding = "zeros",
) -> torch.Tensor:
    """Per-pixel SSIM (Gaussian window, "same" output padded by ``padding``, C1 = 0.01^2,
    C2 = 0.03^2, range 1).

    Args:
        x, y: ``[B, 1, H, W]`` in [0, 1].

    Returns:
        ``[B, 1, H, W]``, at most 1.
    """
    window = gaussian_window(window_size, sigma, x.dtype, x.device)
    mu_x = _same_conv(x, window, padding)
    mu_y = _same_conv(y, window, padding)
    var_x = _same_conv(x * x, window, padding) - mu_x**2
    var_y = _same_conv(y * y, window, padding) - mu_y**2
    cov = _same_conv(x * y, window, padding) - mu_x * mu_y
    c1, c2 = 0.01**2, 0.03**2
    numerator = (2 * mu_x * mu_y + c1) * (2 * cov + c2)
    return numerator / ((mu_x**2 + mu_y**2 + c1) * (var_x + var_y + c2))


def ssim(x: torch.Tensor, y: torch.Tensor, padding: LossPadding = "zeros") -> torch.Tensor:
    """Mean of :func:`ssim_map` over all pixels and the batch (a scalar tensor)."""
    return ssim_map(x, y, padding=padding).mean()


class IntensityLoss(nn.Module):
    """``mean |fused - max(vis, ir)|``."""

    def forward(self, fused: torch.Tensor, vis: torch.Tensor, ir: torch.Tensor) -> torch.Tensor:
        return F.l1_loss(fused, torch.maximum(vis, ir))


class GradientLoss(nn.Module):
    """``mean |sobel(fused) - max(sobel(vis), sobel(ir))|``, Sobel padded by ``padding``."""

    def __init__(self, padding: LossPadding = "zeros") -> None:
        super().__init__()
        self.padding = padding

    def forward(self, fused: torch.Tensor, vis: torch.Tensor, ir: torch.Tensor) -> torch.Tensor:
        target = torch.maximum(
            sobel_magnitude(vis, self.padding), sobel_magnitude(ir, self.padding)
        )
        return F.l1_loss(sobel_magnitude(fused, self.padding), target)


class GradientWeightedSSIMLoss(nn.Module):
    """``1 - (w_V SSIM(vis, fused) + w_I SSIM(ir, fused))``, ``w_X = g_X / (g_V + g_I)``.

    ``g_X`` is the batch mean of the Sobel magnitude of ``X`` (a scalar, as in the official code);
    Sobel and SSIM windows are padded by ``padding``.
    """

    def __init__(self, padding: LossPadding = "zeros") -> None:
        super().__init__()
        self.padding = padding

    def forward(self, fused: torch.Tensor, vis: torch.Tensor, ir: torch.Tensor) -> torch.Tensor:
        g_vis = sobel_magnitude(vis, self.padding).mean()
        g_ir = sobel_magnitude(ir, self.padding).mean()
        total = (g_vis + g_ir).clamp_min(torch.finfo(fused.dtype).eps)
        similarity = g_vis / total * ssim(vis, fused, self.padding)
        return 1 - (similarity + g_ir / total * ssim(ir, fused, self.padding))


class AttentionDiversityLoss(nn.Module):
    """``mean(1 - max_k A_k) + mean(A)`` for attention ``A`` of shape ``[B, K, H, W]`` in (0, 1).

    Low when one head is close to 1 at each pixel while the average activation stays low.
    """

    def forward(self, attention: torch.Tensor) -> torch.Tensor:
        return (1 - attention.amax(dim=1)).mean() + attention.mean()


@dataclass(frozen=True)
class FusionLossWeights:
    """Weights of the fusion loss terms; defaults are the official ones."""

    intensity: float = 20.0
    gradient: float = 20.0
    ssim: float = 10.0
    diversity: float = 0.1
    recon_vis: float = 6.0
    recon_ir: float = 1.0


class TSJFusionLoss(nn.Module):
    """The TSJNet fusion objective as a dict of weighted terms.

    The frameworks sum every entry (detectron2 sums the dict, mmengine's ``parse_losses`` sums
    keys containing "loss"), so the total is ``sum(losses.values())``.

    Args:
        weights: term weights; a zero weight skips that term.
        padding: how the Sobel and SSIM convolutions pad: ``"zeros"`` (official) or
            ``"reflect"`` (no bright-border bias; see the module docstring).
    """

    def __init__(
        self, weights: FusionLossWeights | None = None, padding: LossPadding = "zeros"
    ) -> None:
        super().__init__()
        if padding not in ("zeros", "reflect"):
            raise ValueError(f"loss padding must be 'zeros' or 'reflect', got {padding!r}")
        self.weights = weights or FusionLossWeights()
        self.padding = padding
        self.intensity = IntensityLoss()
        self.gradient = GradientLoss(padding)
        self.ssim = GradientWeightedSSIMLoss(padding)
        self.diversity = AttentionDiversityLoss()

    def forward(
        self, outputs: FusionOutput, ir: torch.Tensor, vis_y: torch.Tensor
    ) -> dict[str, torch.Tensor]:
        """Weighted loss terms.

        Args:
            outputs: ``model(ir, vis_y, with_aux=True)``.
            ir, vis_y: the network inputs, ``[B, 1, H, W]`` in [0, 1].

        Returns:
            ``loss_fusion_`` + ``int``, ``grad``, ``ssim``, ``div``, ``rec_vis``, ``rec_ir``
            (terms with weight 0 are left out), each a scalar tensor.
        """
        with torch.autocast(outputs.fused.device.type, enabled=False):
            return self._terms(outputs, ir.float(), vis_y.float())

    def _terms(
        self, outputs: FusionOutput, ir: torch.Tensor, vis_y: torch.Tensor
    ) -> dict[str, torch.Tensor]:
        # float32 even under AMP: SSIM's E[x^2] - mu^2 loses the C2 = 9e-4 scale in float16.
        w = self.weights
        fused = outputs.fused.float()
        terms = {
            "loss_fusion_int": (w.intensity, lambda: self.intensity(fused, vis_y, ir)),
            "loss_fusion_grad": (w.gradient, lambda: self.gradient(fused, vis_y, ir)),
            "loss_fusion_ssim": (w.ssim, lambda: self.ssim(fused, vis_y, ir)),
            "loss_fusion_div": (w.diversity, lambda: self.diversity(outputs.attention.float())),
            "loss_fusion_rec_vis": (
                w.recon_vis,
                lambda: F.mse_loss(outputs.recon_vis.float(), vis_y),
            ),
            "loss_fusion_rec_ir": (w.recon_ir, lambda: F.mse_loss(outputs.recon_ir.float(), ir)),
        }
        return {name: weight * term() for name, (weight, term) in terms.items() if weight}
