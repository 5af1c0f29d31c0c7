"""The real image pairs shipped beside the repository (../shared/data) load through the readers.

Set TSJNET_SHARED_DATA to point elsewhere; the tests skip when the folder is absent.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from tsjnet_plugin.data import (
    msrs_lighting,
    read_dataset,
    read_image_size,
    read_ir,
    read_msrs_det,
    read_pairs_folder,
    read_roadscene,
    read_visible,
)

SHARED_DATA = Path(
    os.environ.get("TSJNET_SHARED_DATA", Path(__file__).resolve().parents[3] / "shared" / "data")
)
pytestmark = pytest.mark.skipif(
    not SHARED_DATA.is_dir(), reason=f"shared data folder {SHARED_DATA} not found"
)


def _assert_pairs_match(dataset) -> None:
    for record in dataset:
        assert Path(record.ir_path).stem == Path(record.vis_path).stem == record.sample_id
        size = (record.height, record.width)
        assert read_image_size(record.ir_path) == read_image_size(record.vis_path) == size


def test_msrs_samples():
    root = SHARED_DATA / "msrs_samples"
    dataset = read_pairs_folder(root / "ir", root / "vi", name="msrs_samples")
    assert [r.sample_id for r in dataset] == ["00004N", "00008N", "00012N", "00016N"]
    assert {(r.height, r.width) for r in dataset} == {(480, 640)}
    _assert_pairs_match(dataset)
    ir, vis = read_ir(dataset[0].ir_path), read_visible(dataset[0].vis_path)
    assert ir.shape == (480, 640) and ir.dtype == np.float32 and 0 <= ir.min() <= ir.max() <= 1
    assert vis.shape == (480, 640, 3) and vis.dtype == np.uint8


def test_roadscene():
    root = SHARED_DATA / "roadscene"
    dataset = read_pairs_folder(root / "ir", root / "vi", name="roadscene")
    assert len(dataset) == 171
    assert len({(r.height, r.width) for r in dataset}) > 1
    _assert_pairs_match(dataset)
    assert [r.sample_id for r in read_roadscene(root)] == [r.sample_id for r in dataset]
    assert read_ir(dataset[0].ir_path).shape == (dataset[0].height, dataset[0].width)


MSRS_DET = SHARED_DATA / "msrs_det"
# Boxes per class (person, bicycle, car) in each label variant, as msrs_det/README.md states.
MSRS_DET_COUNTS = {
    "labels": (730, 110, 385),
    "labels_infrared": (956, 202, 318),
    "labels_visible": (368, 115, 326),
}


@pytest.mark.parametrize("variant", sorted(MSRS_DET_COUNTS))
def test_msrs_det_labels_parse_with_the_readme_counts(variant):
    dataset = read_msrs_det(MSRS_DET, "all", labels=variant)
    assert len(dataset) == 301
    assert dataset.thing_classes == ("person", "bicycle", "car")
    labels = np.concatenate([r.labels for r in dataset])
    assert tuple(np.bincount(labels, minlength=3)) == MSRS_DET_COUNTS[variant]
    if variant == "labels":
        assert sum(len(r.boxes) == 0 for r in dataset) == 27  # empty files: no objects
    for record in dataset:
        assert (record.boxes[:, 2:] > record.boxes[:, :2]).all()
        assert (record.boxes[:, 2] <= record.width).all() and (record.boxes[:, 3] <= 480).all()


def test_msrs_det_split_is_deterministic_disjoint_and_has_day_and_night():
    train = read_msrs_det(MSRS_DET, "train")
    test = read_msrs_det(MSRS_DET, "test")
    train_ids, test_ids = [r.sample_id for r in train], [r.sample_id for r in test]
    assert (len(train_ids), len(test_ids)) == (226, 75)
    assert not set(train_ids) & set(test_ids)
    assert sorted(train_ids + test_ids) == [r.sample_id for r in read_msrs_det(MSRS_DET, "all")]
    assert train_ids == [r.sample_id for r in read_msrs_det(MSRS_DET, "train")]
    for ids in (train_ids, test_ids):
        assert {msrs_lighting(i) for i in ids} == {"day", "night"}
    # Contiguous by name within each lighting: every test night name follows every train one.
    night = [i for i in train_ids if msrs_lighting(i) == "night"]
    assert max(night) < min(i for i in test_ids if msrs_lighting(i) == "night")
    assert (train.name, test.name) == ("msrs_det_train", "msrs_det_test")
    assert (
        read_msrs_det(MSRS_DET, "test", labels="labels_infrared").name == "msrs_det_test_infrared"
    )
    assert read_dataset("msrs_det", MSRS_DET, "test").name == "msrs_det_test"
    with pytest.raises(ValueError, match="labels must be one of"):
        read_msrs_det(MSRS_DET, labels="labels_thermal")
