"""tsjnet_plugin/data/records.py: PairDataset.validate catches each broken invariant."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from tsjnet_plugin.data import DatasetError, PairDataset, PairRecord


def _record(**changes) -> PairRecord:
    record = PairRecord(
        sample_id="s0",
        ir_path="ir/s0.png",
        vis_path="vi/s0.png",
        height=32,
        width=40,
        seg_path="seg/s0.png",
        boxes=np.array([[1, 2, 10, 20]], np.float32),
        labels=np.array([1], np.int64),
    )
    return dataclasses.replace(record, **changes)


def _dataset(*records: PairRecord, **changes) -> PairDataset:
    fields = dict(name="toy", thing_classes=("a", "b"), stuff_classes=("bg", "a", "b"))
    fields.update(changes)
    return PairDataset(records=list(records or [_record()]), **fields)


def test_valid_dataset_passes_and_behaves_like_a_sequence():
    dataset = _dataset(
        _record(),
        _record(
            sample_id="s1", boxes=np.zeros((0, 4), np.float32), labels=np.zeros((0,), np.int64)
        ),
    )
    dataset.validate()
    assert len(dataset) == 2 and dataset[1].sample_id == "s1"
    assert [r.sample_id for r in dataset] == ["s0", "s1"]
    _dataset(_record(boxes=None, labels=None, seg_path=None), stuff_classes=()).validate()


@pytest.mark.parametrize(
    ("record", "changes", "message"),
    [
        (_record(height=0), {}, "size must be positive"),
        (_record(labels=None), {}, "both be set or both be None"),
        (_record(boxes=np.array([[1, 2, 10, 20]], np.float64)), {}, r"\[N, 4\] float32"),
        (_record(labels=np.array([1, 0], np.int64)), {}, r"labels must be \[1\] int64"),
        (_record(labels=np.array([2], np.int64)), {}, r"labels \[2\] outside \[0, 2\)"),
        (_record(boxes=np.array([[1, 2, 41, 20]], np.float32)), {}, "outside the 40x32"),
        (_record(boxes=np.array([[5, 2, 5, 20]], np.float32)), {}, "is empty"),
        (_record(), {"stuff_classes": ()}, "no stuff classes"),
        (_record(), {"ignore_label": 2}, "ignore_label 2 is also a stuff class"),
        (_record(), {"thing_dataset_ids": (1,)}, "1 thing_dataset_ids for 2 thing_classes"),
    ],
)
def test_validate_rejects(record, changes, message):
    with pytest.raises(DatasetError, match=message):
        _dataset(record, **changes).validate()


def test_validate_names_the_sample_and_file():
    with pytest.raises(DatasetError, match=r"sample 's0' \(ir/s0.png\)"):
        _dataset(_record(height=-1)).validate()


def test_duplicate_sample_ids():
    with pytest.raises(DatasetError, match=r"sample id 's0' appears twice"):
        _dataset(_record(), _record()).validate()


def test_check_files(layout):
    ir, vis = layout.pair("ir", "vi", "s0")
    record = _record(ir_path=str(ir), vis_path=str(vis), seg_path=None)
    _dataset(record).validate(check_files=True)
    with pytest.raises(DatasetError, match=r"file seg/s0.png does not exist"):
        _dataset(_record(ir_path=str(ir), vis_path=str(vis))).validate(check_files=True)
