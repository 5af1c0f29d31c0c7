"""detectron2 adapter for the paired datasets: dicts, catalog registration, the pair mapper."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import tiny_msrs
from detectron2.config import get_cfg
from detectron2.data import DatasetCatalog, MetadataCatalog
from detectron2.data import transforms as T
from detectron2.structures import BoxMode
from PIL import Image

from tsjnet_plugin.d2 import (
    PairDatasetMapper,
    pair_dataset_to_dicts,
    register_builtin,
    register_pair_dataset,
)
from tsjnet_plugin.data import DatasetError, read_msrs
from tsjnet_plugin.paths import DATASETS_ENV

# IR levels: 8-bit (sample "a", uint8 resize path) and 16-bit (sample "b", float path)
IR_LEVELS = {"a": (20, 250, np.uint8), "b": (5000, 60000, np.uint16)}


@pytest.fixture
def msrs_root(tmp_path: Path) -> Path:
    return tiny_msrs.write_msrs(tmp_path / "MSRS", IR_LEVELS)


@pytest.fixture
def catalog() -> Iterator[list[str]]:
    """Names to remove from the catalogs after the test."""
    names: list[str] = []
    yield names
    for name in names:
        if name in DatasetCatalog.list():
            DatasetCatalog.remove(name)
        if name in MetadataCatalog.list():
            MetadataCatalog.remove(name)


def _register(catalog: list[str], name: str, root: Path) -> None:
    catalog.append(name)
    register_pair_dataset(name, lambda: read_msrs(root, "train", name=name))


def test_d2_dicts_and_metadata(msrs_root, catalog):
    _register(catalog, "tsj_test_d2_dicts", msrs_root)
    dicts = DatasetCatalog.get("tsj_test_d2_dicts")
    assert [d["image_id"] for d in dicts] == ["a", "b"]
    first = dicts[0]
    assert first["file_name"] == str(msrs_root / "train" / "vi" / "a.png")
    assert first["ir_file_name"] == str(msrs_root / "train" / "ir" / "a.png")
    assert (first["height"], first["width"]) == (tiny_msrs.HEIGHT, tiny_msrs.WIDTH)
    assert first["sem_seg_file_name"].endswith("Segmentation_labels/a.png")
    assert first["annotations"] == [
        {
            "bbox": list(map(float, tiny_msrs.BOX)),
            "bbox_mode": BoxMode.XYXY_ABS,
            "category_id": 0,
            "iscrowd": 0,
        }
    ]
    meta = MetadataCatalog.get("tsj_test_d2_dicts")
    assert meta.thing_classes == list(tiny_msrs.THING_CLASSES)
    assert meta.stuff_classes == list(tiny_msrs.STUFF_CLASSES)
    assert meta.ignore_label == 255
    assert meta.evaluator_type == "tsj_pair"
    assert meta.modalities == ("visible", "infrared")


def test_d2_dicts_without_labels(msrs_root):
    dicts = pair_dataset_to_dicts(read_msrs(msrs_root, det_format="none"))
    assert "annotations" not in dicts[0]
    assert "sem_seg_file_name" in dicts[0]


def test_d2_register_same_loader_is_noop_other_loader_raises(msrs_root, catalog):
    catalog.append("tsj_test_d2_twice")

    def loader():
        return read_msrs(msrs_root)

    register_pair_dataset("tsj_test_d2_twice", loader)
    register_pair_dataset("tsj_test_d2_twice", loader)
    with pytest.raises(ValueError, match="'tsj_test_d2_twice' is already registered"):
        register_pair_dataset("tsj_test_d2_twice", lambda: read_msrs(msrs_root))


def _bright(channel: np.ndarray, low: float, high: float) -> np.ndarray:
    """Pixels more than 40% of the way from the background to the box level."""
    return (channel.astype(np.float64) - low) / (high - low) > 0.4


@pytest.mark.parametrize("stem", ["a", "b"], ids=["ir8", "ir16"])
def test_d2_mapper_keeps_pair_aligned(msrs_root, catalog, stem):
    _register(catalog, "tsj_test_d2_mapper", msrs_root)
    dataset_dict = {d["image_id"]: d for d in DatasetCatalog.get("tsj_test_d2_mapper")}[stem]
    mapper = PairDatasetMapper(
        is_train=True,
        augmentations=[T.ResizeShortestEdge(96, 1000), T.RandomFlip(prob=1.0)],
    )
    out = mapper(dataset_dict)

    image, ir, sem_seg = out["image"].numpy(), out["ir"].numpy(), out["sem_seg"].numpy()
    assert image.shape == (3, 96, 120) and image.dtype == np.uint8
    # 8-bit IR stays uint8 (as read); 16-bit IR is resized on the float path, in [0, 1]
    assert ir.shape == (1, 96, 120) and ir.dtype == (np.uint8 if stem == "a" else np.float32)
    ir = ir / np.float32(255.0) if ir.dtype == np.uint8 else ir
    assert 0.0 <= ir.min() and ir.max() <= 1.0
    assert sem_seg.shape == (96, 120) and sem_seg.dtype == np.int64
    assert image[:, 30, 84].tolist() == list(tiny_msrs.VIS_BOX)  # RGB order, inside the moved box
    low, high, dtype = IR_LEVELS[stem]
    scale = np.iinfo(dtype).max
    vis_box = _bright(image[0], tiny_msrs.VIS_BACKGROUND[0], tiny_msrs.VIS_BOX[0])
    ir_box = _bright(ir[0], low / scale, high / scale)
    np.testing.assert_array_equal(ir_box, vis_box)
    np.testing.assert_array_equal(sem_seg == 1, vis_box)

    # the box moved as the pixels did: scaled by 1.5, then mirrored in the 120-pixel width
    rows, cols = np.nonzero(vis_box)
    assert (cols.min(), cols.max() + 1, rows.min(), rows.max() + 1) == (66, 102, 15, 45)
    instances = out["instances"]
    np.testing.assert_allclose(instances.gt_boxes.tensor.numpy(), [[66, 15, 102, 45]])
    assert instances.gt_classes.tolist() == [0]
    assert instances.image_size == (96, 120)
    assert (out["height"], out["width"]) == (tiny_msrs.HEIGHT, tiny_msrs.WIDTH)
    assert out["ir_file_name"] == dataset_dict["ir_file_name"]


def test_d2_mapper_from_config_and_empty_instances(msrs_root):
    cfg = get_cfg()
    cfg.INPUT.MIN_SIZE_TRAIN = (32,)
    cfg.INPUT.MAX_SIZE_TRAIN = 1000
    dataset_dict = pair_dataset_to_dicts(read_msrs(msrs_root))[0]
    dataset_dict["annotations"] = []
    out = PairDatasetMapper(cfg, is_train=True)(dataset_dict)
    assert out["image"].shape == (3, 32, 40)
    assert out["ir"].shape == (1, 32, 40)
    assert len(out["instances"]) == 0
    assert out["instances"].gt_boxes.tensor.shape == (0, 4)


def test_d2_register_builtin(tmp_path, monkeypatch, catalog):
    monkeypatch.setenv(DATASETS_ENV, str(tmp_path / "data"))
    names = register_builtin()
    catalog.extend(names)
    assert register_builtin() == names  # same root: a no-op
    assert {"tsj_synthetic_train", "msrs_test", "m3fd", "llvip_train"} <= set(names)
    assert MetadataCatalog.get("tsj_synthetic_train").thing_classes == ["person", "car", "bike"]
    assert not (tmp_path / "data").exists()  # nothing is written before use

    dicts = DatasetCatalog.get("tsj_synthetic_test")
    assert len(dicts) == 4
    assert (tmp_path / "data" / "synthetic" / "synthetic.json").is_file()
    with pytest.raises(DatasetError, match=r"MSRS.*'msrs_train' does not exist"):
        DatasetCatalog.get("msrs_train")
    with pytest.raises(ValueError, match="already registered"):
        register_builtin(tmp_path / "elsewhere")


def test_d2_missing_partner_raises_naming_file(msrs_root, catalog):
    (msrs_root / "train" / "vi" / "b.png").unlink()
    _register(catalog, "tsj_test_d2_partner", msrs_root)
    with pytest.raises(DatasetError, match=r"ir/b\.png: no visible partner"):
        DatasetCatalog.get("tsj_test_d2_partner")


def test_d2_out_of_range_seg_value_raises_naming_file(msrs_root):
    seg_path = msrs_root / "train" / "Segmentation_labels" / "a.png"
    dataset_dict = pair_dataset_to_dicts(read_msrs(msrs_root))[0]
    Image.fromarray(np.full((tiny_msrs.HEIGHT, tiny_msrs.WIDTH), 7, np.uint8)).save(seg_path)
    with pytest.raises(DatasetError, match=rf"{seg_path}: segmentation values \[7\]"):
        read_msrs(msrs_root)  # at indexing
    mapper = PairDatasetMapper(is_train=False, augmentations=[])
    with pytest.raises(DatasetError, match=rf"{seg_path}: segmentation values \[7\]"):
        mapper(dataset_dict)  # a label changed after indexing
