"""BT.601 colour conversion, re-colouring and input normalisation."""

import numpy as np
import pytest
import torch

from tsjnet_plugin.fusion.color import (
    ir_to_tensor,
    recolor,
    rgb_to_y,
    rgb_to_ycbcr,
    to_uint8_image,
    visible_to_tensor,
    ycbcr_to_rgb,
)


def test_known_colours():
    colours = torch.tensor([[1.0, 1.0, 1.0], [1.0, 0.0, 0.0], [0.0, 0.0, 1.0]]).T.reshape(
        1, 3, 1, 3
    )
    ycbcr = rgb_to_ycbcr(colours)[0, :, 0]
    torch.testing.assert_close(ycbcr[:, 0], torch.tensor([1.0, 0.5, 0.5]))  # white: no chroma
    assert ycbcr[0, 1].item() == pytest.approx(0.299)  # red luma
    assert ycbcr[2, 1].item() == pytest.approx(1.0)  # red has maximal Cr
    assert ycbcr[1, 2].item() == pytest.approx(1.0)  # blue has maximal Cb


def test_round_trip_error_below_one_level():
    rgb = torch.rand(2, 3, 16, 16)
    back = ycbcr_to_rgb(rgb_to_ycbcr(rgb))
    assert (back - rgb).abs().max().item() < 1 / 255
    u8 = torch.randint(0, 256, (1, 3, 16, 16)).float() / 255
    assert torch.equal((ycbcr_to_rgb(rgb_to_ycbcr(u8)) * 255).round(), (u8 * 255).round())


def test_recolor_with_own_luma_restores_the_image_and_adds_luma_equally():
    rgb = torch.rand(1, 3, 8, 8) * 0.6 + 0.2
    torch.testing.assert_close(recolor(rgb_to_y(rgb), rgb), rgb, atol=1e-6, rtol=0)
    brighter = recolor((rgb_to_y(rgb) + 0.1), rgb)
    torch.testing.assert_close(brighter - rgb, torch.full_like(rgb, 0.1), atol=1e-5, rtol=0)
    assert recolor(torch.ones(1, 1, 8, 8), rgb).max() <= 1.0  # clipped


def test_recolor_is_differentiable_in_fused_luma():
    y = (torch.rand(1, 1, 4, 4) * 0.2 + 0.4).requires_grad_()
    recolor(y, torch.rand(1, 3, 4, 4) * 0.1 + 0.45).sum().backward()  # far from clipping
    assert torch.allclose(y.grad, torch.full_like(y, 3.0))


def test_bgr_and_gray_visible_inputs():
    rgb = np.random.default_rng(0).integers(0, 256, (5, 6, 3), dtype=np.uint8)
    from_rgb = visible_to_tensor(rgb, "RGB")
    assert torch.equal(visible_to_tensor(rgb[..., ::-1], "BGR"), from_rgb)
    assert from_rgb.shape == (1, 3, 5, 6)
    gray = visible_to_tensor(rgb[..., 0])
    assert torch.equal(gray[:, 0], gray[:, 2])
    with pytest.raises(ValueError, match="channel_order"):
        visible_to_tensor(rgb, "YUV")


def test_ir_bit_depths_and_channels():
    ir8 = np.array([[0, 255]], dtype=np.uint8)
    ir16 = np.array([[0, 65535]], dtype=np.uint16)
    assert ir_to_tensor(ir8).flatten().tolist() == [0.0, 1.0]
    assert ir_to_tensor(ir16).flatten().tolist() == [0.0, 1.0]
    assert ir_to_tensor(ir8).shape == (1, 1, 1, 2)
    with pytest.warns(UserWarning, match="3-channel infrared"):
        out = ir_to_tensor(np.stack([ir8] * 3, axis=-1))
    assert out.flatten().tolist() == pytest.approx([0.0, 1.0])
    with pytest.raises(ValueError, match=r"must lie in \[0, 1\]"):
        ir_to_tensor(np.array([[0.0, 2.0]], dtype=np.float32))
    with pytest.raises(TypeError, match="unsupported dtype"):
        ir_to_tensor(np.array([[1, 2]], dtype=np.int64))


def test_to_uint8_image_rounds():
    img = torch.tensor([[[0.0, 0.5, 1.0]]]).view(1, 1, 1, 3)
    assert to_uint8_image(img).tolist() == [[0, 128, 255]]
    assert to_uint8_image(torch.rand(1, 3, 2, 2)).shape == (2, 2, 3)


def test_stretch_to_full_range_per_image():
    from tsjnet_plugin.fusion.color import stretch_to_full_range

    first = torch.tensor([[0.2, 0.4], [0.3, 0.6]])
    constant = torch.full((2, 2), 0.5)
    stretched = stretch_to_full_range(torch.stack([first, constant])[:, None])
    expected = torch.tensor([[0.0, 0.5], [0.25, 1.0]])
    assert torch.allclose(stretched[0, 0], expected)
    assert torch.equal(stretched[1, 0], constant)  # nothing to stretch: unchanged
