"""Fusion losses: hand-computed values, official weights, and gradients into the whole network."""

import math

import pytest
import torch

from tsjnet_plugin import build_fusion_model
from tsjnet_plugin.fusion.losses import (
    AttentionDiversityLoss,
    FusionLossWeights,
    GradientLoss,
    GradientWeightedSSIMLoss,
    IntensityLoss,
    TSJFusionLoss,
    gaussian_window,
    sobel_magnitude,
    ssim,
    ssim_map,
)


def test_sobel_magnitude_of_a_vertical_edge():
    x = torch.tensor([[0.0, 0.0, 1.0, 1.0]] * 4).view(1, 1, 4, 4)
    g = sobel_magnitude(x)[0, 0]
    # Interior rows: |Kx * x| = (1 + 2 + 1) * |x[c+1] - x[c-1]|, Ky = 0; the last column sees
    # the zero padding on its right, so it is an edge too.
    assert g[1].tolist() == [0.0, 4.0, 4.0, 4.0]
    # Top row, zero padding: Kx sees rows 0-1 only (2 + 1 = 3); Ky sees -(row 1) = -(pattern).
    assert g[0, 1].item() == 3.0 + 1.0


def test_intensity_and_gradient_losses_by_hand():
    vis = torch.tensor([0.2, 0.8, 0.5, 0.1]).view(1, 1, 2, 2)
    ir = torch.tensor([0.6, 0.3, 0.5, 0.9]).view(1, 1, 2, 2)
    fused = torch.tensor([0.5, 0.8, 0.4, 1.0]).view(1, 1, 2, 2)
    # max = [0.6, 0.8, 0.5, 0.9]; |diff| = [0.1, 0, 0.1, 0.1]
    assert IntensityLoss()(fused, vis, ir).item() == pytest.approx(0.075)
    same = GradientLoss()(torch.maximum(vis, ir), torch.maximum(vis, ir), torch.zeros_like(ir))
    assert same.item() == pytest.approx(0.0, abs=1e-7)


def test_ssim_map_center_pixel_by_hand():
    torch.manual_seed(1)
    x, y = (
        torch.rand(1, 1, 11, 11, dtype=torch.float64),
        torch.rand(1, 1, 11, 11, dtype=torch.float64),
    )
    w = gaussian_window(11, 1.5, torch.float64)[0, 0]
    assert w.sum().item() == pytest.approx(1.0)
    mx, my = (w * x[0, 0]).sum(), (w * y[0, 0]).sum()
    vx = (w * x[0, 0] ** 2).sum() - mx**2
    vy = (w * y[0, 0] ** 2).sum() - my**2
    cxy = (w * x[0, 0] * y[0, 0]).sum() - mx * my
    c1, c2 = 1e-4, 9e-4
    expected = (2 * mx * my + c1) * (2 * cxy + c2) / ((mx**2 + my**2 + c1) * (vx + vy + c2))
    assert ssim_map(x, y)[0, 0, 5, 5].item() == pytest.approx(expected.item(), rel=1e-10)


def test_ssim_of_identical_images_is_one_and_drops_for_inverted():
    x = torch.rand(2, 1, 32, 32)
    assert ssim(x, x).item() == pytest.approx(1.0, abs=1e-5)
    assert ssim(x, 1 - x).item() < 0.0


def test_gradient_weighted_ssim_weights():
    vis = torch.rand(1, 1, 32, 32)
    flat = torch.zeros_like(
        vis
    )  # no Sobel response (zero padding): all weight on the visible image
    loss = GradientWeightedSSIMLoss()(vis, vis, flat)
    assert loss.item() == pytest.approx(0.0, abs=1e-5)


def test_attention_diversity_by_hand():
    att = torch.tensor([[0.9, 0.1], [0.2, 0.4]]).view(1, 2, 1, 2)  # heads x pixels
    # max over heads per pixel: [0.9, 0.4] -> mean(1 - max) = 0.35; mean(att) = 0.4
    assert AttentionDiversityLoss()(att).item() == pytest.approx(0.75)


def test_total_loss_terms_and_weights():
    model = build_fusion_model("tiny")
    ir, vis = torch.rand(2, 1, 64, 64), torch.rand(2, 1, 64, 64)
    out = model(ir, vis, with_aux=True)
    losses = TSJFusionLoss()(out, ir, vis)
    assert set(losses) == {
        "loss_fusion_int",
        "loss_fusion_grad",
        "loss_fusion_ssim",
        "loss_fusion_div",
        "loss_fusion_rec_vis",
        "loss_fusion_rec_ir",
    }
    expected_rec = 6 * torch.mean((out.recon_vis - vis) ** 2)
    assert losses["loss_fusion_rec_vis"].item() == pytest.approx(expected_rec.item(), rel=1e-5)
    assert FusionLossWeights() == FusionLossWeights(20, 20, 10, 0.1, 6, 1)
    partial = TSJFusionLoss(FusionLossWeights(diversity=0.0))(out, ir, vis)
    assert "loss_fusion_div" not in partial and all(
        math.isfinite(v.item()) for v in partial.values()
    )


def test_total_loss_reaches_every_trainable_parameter():
    model = build_fusion_model("tiny", drop_path_rate=0.0).train()
    ir, vis = torch.rand(2, 1, 64, 64), torch.rand(2, 1, 64, 64)
    losses = TSJFusionLoss()(model(ir, vis, with_aux=True), ir, vis)
    sum(losses.values()).backward()
    trainable = {n: p for n, p in model.named_parameters() if p.requires_grad}
    no_grad = [n for n, p in trainable.items() if p.grad is None or not torch.any(p.grad != 0)]
    assert not no_grad, no_grad
    assert all(p.grad is None for p in model.parameters() if not p.requires_grad)


def test_losses_stay_float32_under_autocast():
    model = build_fusion_model("tiny").eval()
    ir, vis = torch.rand(2, 1, 64, 64), torch.rand(2, 1, 64, 64)
    with torch.no_grad():
        out = model(ir, vis, with_aux=True)
        plain = TSJFusionLoss()(out, ir, vis)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            mixed = TSJFusionLoss()(out, ir, vis)
    for name, value in plain.items():
        assert mixed[name].dtype == torch.float32
        assert mixed[name].item() == pytest.approx(value.item(), rel=1e-5), name


def test_reflect_padded_loss_equals_the_official_one_away_from_the_border():
    torch.manual_seed(0)
    x, y = torch.rand(2, 2, 1, 24, 30, dtype=torch.float64)
    zeros, reflect = sobel_magnitude(x, "zeros"), sobel_magnitude(x, "reflect")
    assert torch.equal(zeros[..., 1:-1, 1:-1], reflect[..., 1:-1, 1:-1])
    assert not torch.allclose(zeros[..., 0, :], reflect[..., 0, :])
    ssim_zeros, ssim_reflect = ssim_map(x, y, padding="zeros"), ssim_map(x, y, padding="reflect")
    assert torch.allclose(ssim_zeros[..., 5:-5, 5:-5], ssim_reflect[..., 5:-5, 5:-5], atol=1e-12)
    assert not torch.allclose(ssim_zeros[..., :5, :], ssim_reflect[..., :5, :])


def test_reflect_padding_has_no_border_gradient_bias():
    constant = torch.full((1, 1, 16, 20), 0.6)
    assert sobel_magnitude(constant, "reflect").abs().max().item() == 0.0
    # Zero padding makes the border of a constant image an edge: the bias the official loss has.
    assert sobel_magnitude(constant, "zeros")[..., 0, :].min().item() > 0.5
    # A fused image equal to the constant sources has zero gradient loss only with reflection.
    assert GradientLoss("reflect")(constant, constant, constant).item() == 0.0
    darker = torch.full_like(constant, 0.3)
    # With zeros, the darker (but equally flat) fused image earns a gradient loss at the border.
    assert GradientLoss("zeros")(darker, constant, constant).item() > 0.0
    assert GradientLoss("reflect")(darker, constant, constant).item() == 0.0


def test_loss_padding_defaults_follow_the_arch_and_bad_values_are_refused():
    from tsjnet_plugin.fusion import FusionFrontEnd
    from tsjnet_plugin.fusion.losses import default_loss_padding

    assert default_loss_padding("official") == "zeros"
    assert default_loss_padding("fast") == "reflect"
    assert FusionFrontEnd("tiny").criterion.padding == "reflect"
    assert FusionFrontEnd("tiny", loss_padding="zeros").criterion.padding == "zeros"
    with pytest.raises(ValueError, match="'zeros' or 'reflect'"):
        TSJFusionLoss(padding="circular")
