"""OpenMMLab adapter for the paired datasets: registration, stock pipelines carrying the IR."""

from __future__ import annotations

from pathlib import Path

import mmdet.registry
import mmseg.registry
import numpy as np
import pytest
import tiny_msrs
import torch
from mmengine.registry import DATASETS, TRANSFORMS, DefaultScope
from PIL import Image

from tsjnet_plugin.data import DatasetError
from tsjnet_plugin.mm import (
    ApplyToVisible,
    LoadIRVisPair,
    LoadPairSegLabel,
    TSJPairDataset,
    split_pair,
)

IR_LOW, IR_HIGH = 5000, 60000  # 16-bit IR in both samples
# 64x80 -> 96x120 (x1.5), then mirrored in the 120-pixel width
MOVED_BOX = (66, 15, 102, 45)
RESIZE_FLIP = [
    dict(type="Resize", scale=(120, 96), keep_ratio=True),
    dict(type="RandomFlip", prob=1.0),
]


@pytest.fixture
def msrs_root(tmp_path: Path) -> Path:
    return tiny_msrs.write_msrs(
        tmp_path / "MSRS", dict.fromkeys("ab", (IR_LOW, IR_HIGH, np.uint16))
    )


def _build(scope: str, **cfg):
    """Build a TSJPairDataset through `scope`'s DATASETS registry with `scope` as default."""
    registry = {"mmdet": mmdet.registry.DATASETS, "mmseg": mmseg.registry.DATASETS}[scope]
    with DefaultScope.overwrite_default_scope(scope):
        return registry.build(dict(type="TSJPairDataset", **cfg))


def _bright(channel: torch.Tensor, low: float, high: float) -> np.ndarray:
    """Pixels more than 40% of the way from the background to the box level."""
    return ((channel.double().numpy() - low) / (high - low)) > 0.4


def _check_pair_aligned(inputs: torch.Tensor, seg: np.ndarray) -> None:
    """inputs [4, 96, 120] (B, G, R, IR) in [0, 255]: box moved alike in every channel."""
    assert inputs.shape == (4, 96, 120) and inputs.dtype == torch.float32
    vis_bgr, ir = split_pair(inputs)
    assert vis_bgr[:, 30, 84].tolist() == list(tiny_msrs.VIS_BOX[::-1])  # BGR, inside the moved box
    vis_box = _bright(vis_bgr[2], tiny_msrs.VIS_BACKGROUND[0], tiny_msrs.VIS_BOX[0])
    ir_box = _bright(ir[0], IR_LOW * 255 / 65535, IR_HIGH * 255 / 65535)
    np.testing.assert_array_equal(ir_box, vis_box)
    np.testing.assert_array_equal(seg == 1, vis_box)
    rows, cols = np.nonzero(vis_box)
    assert (cols.min(), rows.min(), cols.max() + 1, rows.max() + 1) == MOVED_BOX


def test_mm_registered_in_root_and_found_from_both_scopes():
    for registry in (DATASETS, mmdet.registry.DATASETS, mmseg.registry.DATASETS):
        assert registry.get("TSJPairDataset") is TSJPairDataset
    for registry in (TRANSFORMS, mmdet.registry.TRANSFORMS, mmseg.registry.TRANSFORMS):
        assert registry.get("LoadIRVisPair") is LoadIRVisPair
        assert registry.get("LoadPairSegLabel") is LoadPairSegLabel
        assert registry.get("ApplyToVisible") is ApplyToVisible


def test_mm_data_list_and_metainfo_per_task(msrs_root):
    joint = _build("mmdet", reader="msrs", data_root=str(msrs_root), split="train")
    assert len(joint) == 2
    info = joint.get_data_info(0)
    assert info["img_path"] == str(msrs_root / "train" / "vi" / "a.png")
    assert info["ir_path"] == str(msrs_root / "train" / "ir" / "a.png")
    assert info["seg_map_path"] == str(msrs_root / "train" / "Segmentation_labels" / "a.png")
    assert info["instances"] == [
        {"bbox": list(map(float, tiny_msrs.BOX)), "bbox_label": 0, "ignore_flag": 0}
    ]
    assert (info["img_id"], info["height"], info["width"]) == (
        "a",
        tiny_msrs.HEIGHT,
        tiny_msrs.WIDTH,
    )
    assert info["reduce_zero_label"] is False and info["seg_fields"] == []
    meta = joint.metainfo
    assert meta["classes"] == tiny_msrs.THING_CLASSES
    assert (
        meta["det_classes"] == tiny_msrs.THING_CLASSES
        and meta["seg_classes"] == tiny_msrs.STUFF_CLASSES
    )
    assert len(meta["seg_palette"]) == len(tiny_msrs.STUFF_CLASSES)
    assert meta["modalities"] == ("visible", "infrared")
    seg = _build("mmseg", reader="msrs", data_root=str(msrs_root), task="seg", lazy_init=True)
    assert seg.metainfo["classes"] == tiny_msrs.STUFF_CLASSES  # known before full_init
    assert seg.metainfo["palette"] == seg.metainfo["seg_palette"]
    det = _build("mmdet", reader="msrs", data_root=str(msrs_root), task="det")
    assert det.metainfo["classes"] == tiny_msrs.THING_CLASSES
    with pytest.raises(ValueError, match="has no splits"):
        TSJPairDataset(reader="tno", split="train", data_root=str(msrs_root))


def test_mm_det_pipeline_keeps_pair_aligned(msrs_root):
    pipeline = [
        dict(type="LoadIRVisPair"),
        dict(type="LoadAnnotations", with_bbox=True, with_seg=True),
        *RESIZE_FLIP,
        dict(type="Pad", size_divisor=32),
        dict(type="PackDetInputs"),
    ]
    dataset = _build("mmdet", reader="msrs", data_root=str(msrs_root), pipeline=pipeline)
    out = dataset[0]
    sample = out["data_samples"]
    seg = sample.gt_sem_seg.sem_seg[0].numpy()
    assert out["inputs"].shape == (4, 96, 128)  # padded to a multiple of 32
    assert (out["inputs"][:, :, 120:] == 0).all()
    _check_pair_aligned(out["inputs"][:, :, :120], seg[:, :120])
    np.testing.assert_allclose(sample.gt_instances.bboxes.tensor.numpy(), [MOVED_BOX])
    assert sample.gt_instances.labels.tolist() == [0]
    assert sample.img_id == "a" and sample.flip


def test_mm_seg_pipeline_keeps_pair_aligned(msrs_root):
    pipeline = [
        dict(type="LoadIRVisPair"),
        dict(type="LoadAnnotations"),
        *RESIZE_FLIP,
        dict(type="PackSegInputs"),
    ]
    dataset = _build(
        "mmseg", reader="msrs", data_root=str(msrs_root), task="seg", pipeline=pipeline
    )
    out = dataset[1]
    seg = out["data_samples"].gt_sem_seg.data[0].numpy()
    _check_pair_aligned(out["inputs"], seg)


def test_mm_apply_to_visible_leaves_ir_untouched(msrs_root):
    pipeline = [
        dict(type="LoadIRVisPair"),
        dict(type="ApplyToVisible", transforms=[dict(type="PhotoMetricDistortion")]),
    ]
    dataset = _build("mmdet", reader="msrs", data_root=str(msrs_root), pipeline=pipeline)
    loaded = LoadIRVisPair()(dataset.get_data_info(0))["img"]
    img = dataset[0]["img"]
    assert img.shape == (tiny_msrs.HEIGHT, tiny_msrs.WIDTH, 4) and img.dtype == np.float32
    np.testing.assert_array_equal(img[..., 3], loaded[..., 3])


def test_mm_load_pair_seg_label_checks_values(msrs_root):
    seg_path = msrs_root / "train" / "Segmentation_labels" / "a.png"
    dataset = TSJPairDataset(reader="msrs", data_root=str(msrs_root))
    info = dataset.get_data_info(0)
    assert (LoadPairSegLabel()(dict(info))["gt_seg_map"] == 1).sum() == 24 * 20
    Image.fromarray(np.full((tiny_msrs.HEIGHT, tiny_msrs.WIDTH), 7, np.uint8)).save(seg_path)
    with pytest.raises(DatasetError, match=rf"{seg_path}: segmentation values \[7\]"):
        LoadPairSegLabel()(dict(info))


def test_mm_missing_partner_raises_naming_file(msrs_root):
    (msrs_root / "train" / "ir" / "b.png").unlink()
    with pytest.raises(DatasetError, match=r"vi/b\.png: no infrared partner"):
        TSJPairDataset(reader="msrs", data_root=str(msrs_root))


def test_mm_synthetic_reader(tmp_path):
    dataset = _build(
        "mmseg",
        reader="synthetic",
        data_root=str(tmp_path / "synthetic"),
        split="test",
        reader_args=dict(num_train=2, num_test=2, height=64, width=80),
        task="seg",
    )
    assert len(dataset) == 2
    assert dataset.metainfo["classes"] == ("background", "person", "car", "bike")
    assert dataset.metainfo["det_classes"] == ("person", "car", "bike")


def test_mm_relative_data_root_is_under_the_datasets_root(tmp_path, monkeypatch):
    monkeypatch.setenv("TSJNET_DATASETS", str(tmp_path / "data"))
    monkeypatch.chdir(tmp_path)  # a cwd-relative "synthetic" would be tmp_path / "synthetic"
    dataset = TSJPairDataset(
        reader="synthetic",
        data_root="synthetic",
        split="test",
        reader_args=dict(num_train=1, num_test=1, height=32, width=40),
    )
    assert dataset.data_root == str(tmp_path / "data" / "synthetic")
    assert (tmp_path / "data" / "synthetic" / "test").is_dir()
    assert not (tmp_path / "synthetic").exists()


def test_mm_split_pair_shapes():
    batch = torch.arange(2 * 4 * 3 * 5, dtype=torch.float32).reshape(2, 4, 3, 5)
    vis, ir = split_pair(batch)
    assert vis.shape == (2, 3, 3, 5) and ir.shape == (2, 1, 3, 5)
    assert torch.equal(torch.cat([vis, ir], dim=1), batch)
    with pytest.raises(ValueError, match=r"\[\.\.\., 4, H, W\]"):
        split_pair(batch[:, :3])
