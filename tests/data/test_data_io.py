"""tsjnet_plugin/data/io.py: image reading with validation."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from tsjnet_plugin.data import (
    DatasetError,
    pack_pair,
    read_image_size,
    read_ir,
    read_ir_levels,
    read_seg_label,
    read_visible,
)


def test_dataset_error_is_a_value_error():
    assert issubclass(DatasetError, ValueError)


def test_read_ir_8bit(layout):
    path = layout.grey("ir.png")
    ir = read_ir(path)
    assert ir.shape == (32, 40) and ir.dtype == np.float32
    np.testing.assert_allclose(ir, np.asarray(Image.open(path)) / 255.0, atol=1e-7)


def test_read_ir_16bit(layout):
    values = np.linspace(0, 65535, 32 * 40).reshape(32, 40).astype(np.uint16)
    path = layout.image("ir16.png", values)
    assert Image.open(path).mode.startswith("I")
    ir = read_ir(path)
    assert ir.dtype == np.float32
    np.testing.assert_allclose(ir, values / 65535.0, atol=1e-6)
    assert ir.min() == 0.0 and ir.max() == 1.0


def test_read_ir_three_channel_warns_and_converts(layout):
    grey = np.arange(32 * 40, dtype=np.uint8).reshape(32, 40)
    path = layout.image("ir_rgb.png", np.repeat(grey[..., None], 3, axis=2))
    with pytest.warns(UserWarning, match=r"ir_rgb.png"):
        ir = read_ir(path)
    assert ir.shape == (32, 40)
    np.testing.assert_allclose(ir, grey / 255.0, atol=1e-5)


def test_read_visible_rgb_and_grey(layout):
    rgb_path = layout.rgb("vis.png")
    vis = read_visible(rgb_path)
    assert vis.shape == (32, 40, 3) and vis.dtype == np.uint8
    np.testing.assert_array_equal(vis, np.asarray(Image.open(rgb_path)))
    grey = read_visible(layout.grey("vis_grey.png"))
    assert grey.shape == (32, 40, 3)
    np.testing.assert_array_equal(grey[..., 0], grey[..., 2])


def test_read_visible_rejects_16bit(layout):
    path = layout.image("vis16.png", np.zeros((32, 40), np.uint16))
    with pytest.raises(DatasetError, match=r"vis16.png.*8-bit"):
        read_visible(path)


def test_read_seg_label_keeps_index_values(layout):
    labels = np.zeros((32, 40), np.uint8)
    labels[0, :9] = np.arange(9)
    labels[1, 0] = 255
    seg = read_seg_label(layout.image("seg.png", labels), num_classes=9)
    assert seg.dtype == np.int64 and seg.shape == (32, 40)
    np.testing.assert_array_equal(seg, labels)


def test_read_seg_label_palette_png(layout):
    image = Image.fromarray(np.full((32, 40), 3, np.uint8)).convert("P")
    image.putpalette([v for i in range(256) for v in (i, 0, 255 - i)])
    image.save(layout.root / "seg_p.png")
    assert Image.open(layout.root / "seg_p.png").mode == "P"
    assert (read_seg_label(layout.root / "seg_p.png", num_classes=9) == 3).all()


def test_read_seg_label_out_of_range_names_file_values_and_range(layout):
    path = layout.seg("bad_seg.png", value=12)
    with pytest.raises(DatasetError, match=r"bad_seg.png.*\[12\].*0\.\.8"):
        read_seg_label(path, num_classes=9)


def test_read_seg_label_rejects_colour_masks(layout):
    with pytest.raises(DatasetError, match=r"colour.png.*mode 'RGB'"):
        read_seg_label(layout.rgb("colour.png"), num_classes=9)


@pytest.mark.parametrize("reader", [read_ir, read_visible, read_image_size])
def test_missing_file(tmp_path, reader):
    with pytest.raises(DatasetError, match=r"nothing.png: file does not exist"):
        reader(tmp_path / "nothing.png")


@pytest.mark.parametrize("reader", [read_ir, read_visible, read_image_size])
def test_not_an_image(layout, reader):
    path = layout.text("notes.png", "not an image")
    with pytest.raises(DatasetError, match=r"notes.png: not a readable image"):
        reader(path)


@pytest.mark.parametrize("reader", [read_ir, read_visible])
def test_truncated_file(layout, reader):
    path = layout.image("cut.png", np.random.default_rng(0).integers(0, 255, (32, 40), np.uint8))
    path.write_bytes(path.read_bytes()[:200])
    with pytest.raises(DatasetError, match=r"cut.png: truncated or corrupt"):
        reader(path)


def test_read_image_size_reads_header(layout):
    assert read_image_size(layout.grey("a.png", size=(21, 37))) == (21, 37)


def test_read_ir_levels_keeps_the_native_bit_depth(layout):
    path8 = layout.grey("ir.png")
    levels = read_ir_levels(path8)
    assert levels.dtype == np.uint8
    np.testing.assert_array_equal(levels, np.asarray(Image.open(path8)))
    values = np.linspace(0, 65535, 32 * 40).reshape(32, 40).astype(np.uint16)
    levels16 = read_ir_levels(layout.image("ir16.png", values))
    assert levels16.dtype == np.uint16
    np.testing.assert_array_equal(levels16, values)


def test_pack_pair_scales_each_dtype_once():
    ir16 = np.array([[0, 257, 65535]], np.uint16)
    vis = np.array([[[10, 20, 30], [0, 0, 0], [255, 255, 255]]], np.uint8)
    packed = pack_pair(ir16, vis)
    assert packed.shape == (1, 3, 4) and packed.dtype == np.float32
    np.testing.assert_array_equal(packed[0, 0], [30, 20, 10, 0])  # B, G, R, IR
    np.testing.assert_array_equal(packed[0, :, 3], [0, 1, 255])
    ir8 = np.array([[0, 7, 255]], np.uint8)
    np.testing.assert_array_equal(pack_pair(ir8, vis / 255.0)[0, :, 3], [0, 7, 255])
    np.testing.assert_allclose(pack_pair(ir8, vis / 255.0)[..., :3], packed[..., :3], atol=1e-4)
    with pytest.raises(DatasetError, match=r"ir\.png.*3x1.*vis\.png is 2x1"):
        pack_pair(ir8, vis[:, :2], "ir.png", "vis.png")
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        pack_pair(ir8.astype(np.float32), vis)
