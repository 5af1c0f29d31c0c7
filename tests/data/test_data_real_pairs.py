"""The real image pairs shipped beside the repository (../shared/data) load through the readers.

Set TSJNET_SHARED_DATA to point elsewhere; the tests skip when the folder is absent.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from tsjnet_plugin.data import (
    read_image_size,
    read_ir,
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
