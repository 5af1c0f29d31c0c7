"""The framework-neutral sample index: one `PairRecord` per IR/visible pair, grouped in a
`PairDataset` that also carries the class names.

Adapters (detectron2, OpenMMLab) turn these into their own dataset dicts; nothing here imports
a framework.

Shape shorthand in this module:
    H, W: image height and width in pixels (the IR and visible images of a pair share them).
    N: number of boxes of one sample.
    K: number of thing (detection) classes; S: number of stuff (segmentation) classes.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

__all__ = ["DatasetError", "PairDataset", "PairRecord"]


class DatasetError(ValueError):
    """A dataset file is missing, unreadable or inconsistent; the message names the file."""


@dataclass(eq=False)  # numpy fields: == would be ambiguous
class PairRecord:
    """One aligned infrared/visible pair and its optional labels.

    Attributes:
        sample_id: unique id inside its dataset (the file stem).
        ir_path: infrared image file (8/16-bit grey, or 3-channel grey).
        vis_path: visible image file (RGB or grey).
        height: H, shared by the IR and visible images (and the segmentation label).
        width: W, shared likewise.
        seg_path: segmentation label file (8-bit index PNG, value = stuff class index or the
            dataset's ignore label), or None when the dataset has no segmentation labels.
        boxes: [N, 4] float32, absolute pixel xyxy with 0 <= x1 < x2 <= W and
            0 <= y1 < y2 <= H (pixel i covers [i, i + 1)); None when the dataset has no
            detection labels. N may be 0.
        labels: [N] int64 in [0, K), a contiguous index into the dataset's `thing_classes`;
            None exactly when `boxes` is None.
    """

    sample_id: str
    ir_path: str
    vis_path: str
    height: int
    width: int
    seg_path: str | None = None
    boxes: np.ndarray | None = None
    labels: np.ndarray | None = None


@dataclass(eq=False)
class PairDataset:
    """A named list of `PairRecord`s with the class names their labels index.

    Attributes:
        name: dataset name, e.g. "msrs_train"; adapters register it under this name.
        records: the samples, in a stable order (sorted by sample id by the readers).
        thing_classes: K detection class names; `PairRecord.labels` index this tuple.
        stuff_classes: S segmentation class names; a label value v means `stuff_classes[v]`.
        ignore_label: segmentation value that marks unlabelled pixels (not a class).
        thing_dataset_ids: the ids the dataset's class file gave each thing class (e.g. the
            COCO ids of TSJNet's `MSRS_pascal_voc_classes.json`), aligned with
            `thing_classes`; None when the class file gave only names.
    """

    name: str
    records: list[PairRecord]
    thing_classes: tuple[str, ...] = ()
    stuff_classes: tuple[str, ...] = ()
    ignore_label: int = 255
    thing_dataset_ids: tuple[int, ...] | None = None

    def __len__(self) -> int:
        return len(self.records)

    def __iter__(self) -> Iterator[PairRecord]:
        return iter(self.records)

    def __getitem__(self, index: int) -> PairRecord:
        return self.records[index]

    def validate(self, check_files: bool = False) -> None:
        """Check every record against the documented shapes, dtypes and ranges.

        Args:
            check_files: also check that every referenced file exists.

        Raises:
            DatasetError: naming the dataset, the sample and its file on the first violation.
        """
        if self.thing_dataset_ids is not None and len(self.thing_dataset_ids) != len(
            self.thing_classes
        ):
            raise DatasetError(
                f"dataset {self.name!r}: {len(self.thing_dataset_ids)} thing_dataset_ids for "
                f"{len(self.thing_classes)} thing_classes"
            )
        if 0 <= self.ignore_label < len(self.stuff_classes):
            raise DatasetError(
                f"dataset {self.name!r}: ignore_label {self.ignore_label} is also a stuff class "
                f"index (stuff classes 0..{len(self.stuff_classes) - 1})"
            )
        seen: set[str] = set()
        for record in self.records:
            if record.sample_id in seen:
                raise DatasetError(
                    f"dataset {self.name!r}: sample id {record.sample_id!r} appears twice "
                    f"(second at {record.ir_path})"
                )
            seen.add(record.sample_id)
            _check_record(record, len(self.thing_classes), bool(self.stuff_classes), check_files)


def _check_record(
    record: PairRecord, num_thing_classes: int, has_stuff_classes: bool, check_files: bool
) -> None:
    where = f"sample {record.sample_id!r} ({record.ir_path})"
    if record.height <= 0 or record.width <= 0:
        raise DatasetError(f"{where}: size must be positive, got {record.height}x{record.width}")
    if record.seg_path is not None and not has_stuff_classes:
        raise DatasetError(
            f"{where}: has a segmentation label but the dataset has no stuff classes"
        )
    if (record.boxes is None) != (record.labels is None):
        raise DatasetError(f"{where}: boxes and labels must both be set or both be None")
    if record.boxes is not None and record.labels is not None:
        _check_boxes(where, record, num_thing_classes)
    if check_files:
        for path in (record.ir_path, record.vis_path, record.seg_path):
            if path is not None and not os.path.isfile(path):
                raise DatasetError(f"{where}: file {path} does not exist")


def _check_boxes(where: str, record: PairRecord, num_thing_classes: int) -> None:
    boxes, labels = record.boxes, record.labels
    assert boxes is not None and labels is not None
    if boxes.dtype != np.float32 or boxes.ndim != 2 or boxes.shape[1] != 4:
        raise DatasetError(
            f"{where}: boxes must be [N, 4] float32, got {boxes.shape} {boxes.dtype}"
        )
    if labels.dtype != np.int64 or labels.shape != (boxes.shape[0],):
        raise DatasetError(
            f"{where}: labels must be [{boxes.shape[0]}] int64, got {labels.shape} {labels.dtype}"
        )
    bad_labels = labels[(labels < 0) | (labels >= num_thing_classes)]
    if bad_labels.size:
        raise DatasetError(
            f"{where}: labels {sorted(set(bad_labels.tolist()))} outside [0, {num_thing_classes})"
        )
    x1, y1, x2, y2 = boxes.T
    inside = (x1 >= 0) & (y1 >= 0) & (x2 <= record.width) & (y2 <= record.height)
    bad = ~(inside & (x2 > x1) & (y2 > y1))
    if bad.any():
        raise DatasetError(
            f"{where}: box {boxes[bad][0].tolist()} is empty or outside the "
            f"{record.width}x{record.height} (WxH) image"
        )
