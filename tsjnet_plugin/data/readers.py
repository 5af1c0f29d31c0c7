"""Readers that index a dataset folder into a `PairDataset`.

Supported layouts (see docs/data.md for the trees): MSRS (with YOLO txt, VOC XML or TSJNet's
`Annotation/` variant for boxes), M3FD, LLVIP, RoadScene, TNO and any pair of IR/visible
folders. IR and visible images are paired by file stem. Only image headers are read, for the
sizes, except segmentation labels, which are decoded once to check their values (a bad label
fails here, at indexing, not at some training iteration); image pixels are decoded later by
`tsjnet_plugin.data.io`.

Class names come from the dataset's class file where it has one; a layout whose release ships
no class file falls back to the class list its authors publish (MSRS segmentation, M3FD, LLVIP).

Error handling: a dataset-level problem (a missing or empty folder, no class file, no usable
sample) always raises `DatasetError`. A per-sample problem (a missing partner image, an IR /
visible size mismatch, a missing or broken label file, a segmentation value that is neither a
class nor the ignore label, an unknown class, a box outside the image) raises `DatasetError` naming the file with `on_error="raise"` (the default), or is
logged as a warning and the sample skipped with `on_error="skip"`.
"""

from __future__ import annotations

import logging
import os
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np

from .io import read_image_size, read_seg_label
from .labels import (
    BoxOutside,
    fit_boxes_to_image,
    read_class_file,
    read_voc_boxes,
    read_yolo_boxes,
)
from .records import DatasetError, PairDataset, PairRecord

__all__ = [
    "IMAGE_EXTENSIONS",
    "LLVIP_CLASSES",
    "M3FD_CLASSES",
    "M3FD_TEST_EVERY",
    "MSRS_DET_LABELS",
    "MSRS_DET_TEST_FRACTION",
    "MSRS_SEG_CLASSES",
    "msrs_lighting",
    "read_llvip",
    "read_m3fd",
    "read_msrs",
    "read_msrs_det",
    "read_pairs_folder",
    "read_roadscene",
    "read_tno",
]

logger = logging.getLogger(__name__)

PathLike = str | os.PathLike[str]
OnError = Literal["raise", "skip"]
DetFormat = Literal["auto", "yolo", "voc", "none"]

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff")
# The 9 classes of the MSRS segmentation labels (label value = index), as MSRS publishes them.
MSRS_SEG_CLASSES = (
    "unlabelled",
    "car",
    "person",
    "bike",
    "curve",
    "car_stop",
    "guardrail",
    "color_cone",
    "bump",
)
# M3FD's 6 classes in the id order of its VOC class map (People: 1 ... Truck: 6).
M3FD_CLASSES = ("People", "Car", "Bus", "Motorcycle", "Lamp", "Truck")
LLVIP_CLASSES = ("person",)
# M3FD has no official split: of the IR images sorted by name, every M3FD_TEST_EVERY-th (the
# 10th, 20th, ...: 00009, 00019, ... of the release's 00000-04199) is the test split.
M3FD_TEST_EVERY = 10
# The label variants of the MSRS detection labels (Lele-3/MSRS-detection-label): objects seen in
# either modality, in the infrared image, in the visible image.
MSRS_DET_LABELS = ("labels", "labels_infrared", "labels_visible")
# Our split of the MSRS detection pairs: in each lighting group (day `*D`, night `*N`) sorted by
# name, the last quarter is "test" (contiguous, so that neighbouring video frames stay together).
MSRS_DET_TEST_FRACTION = 0.25


@dataclass(frozen=True)
class _Detection:
    """Where one layout keeps its boxes, in which format, and the classes they name."""

    format: Literal["yolo", "voc"]
    folder: Path
    class_names: tuple[str, ...]
    class_ids: tuple[int, ...] | None

    def read(
        self, stem: str, height: int, width: int, box_outside: BoxOutside
    ) -> tuple[np.ndarray, np.ndarray]:
        """Boxes [N, 4] float32 xyxy and labels [N] int64 of sample `stem` (H x W pixels).

        A YOLO sample without a txt file has no objects (the YOLO convention); a VOC sample
        without an XML file is an error.
        """
        if self.format == "voc":
            path = self.folder / f"{stem}.xml"
            boxes, labels = read_voc_boxes(path, self.class_names)
        else:
            path = self.folder / f"{stem}.txt"
            if not path.is_file():
                return np.zeros((0, 4), np.float32), np.zeros((0,), np.int64)
            boxes, labels = read_yolo_boxes(path, len(self.class_names), height, width)
        return fit_boxes_to_image(boxes, labels, height, width, box_outside, path)


def read_msrs(
    root: PathLike,
    split: str = "train",
    *,
    name: str | None = None,
    det_format: DetFormat = "auto",
    classes_file: PathLike | None = None,
    seg_classes_file: PathLike | None = None,
    on_error: OnError = "raise",
    box_outside: BoxOutside = "raise",
) -> PairDataset:
    """Index an MSRS-layout folder (also the layout `write_synthetic_msrs` writes).

    Layout: `root/{split}/ir/`, `root/{split}/vi/`, optional `root/{split}/Segmentation_labels/`
    (8-bit index PNGs named like the images) and optional detection labels, looked for in this
    order when `det_format="auto"`:
        - "yolo": `root/{split}/labels/<stem>.txt` (class cx cy w h, normalised);
        - "voc": `root/{split}/Annotations/<stem>.xml`, else TSJNet's `root/Annotation/<stem>.xml`
          (one folder for all splits).
    The detection class file is `classes_file`, else the first found of
    `<labels folder>/classes.txt`, `root/classes.json`, `root/MSRS_pascal_voc_classes.json`,
    `root/classes.txt` (formats: `read_class_file`). Segmentation classes come from
    `seg_classes_file`, else `root/seg_classes.txt`, else `MSRS_SEG_CLASSES`.

    Args:
        root: dataset root.
        split: sub-folder, e.g. "train" or "test".
        name: dataset name; default "msrs_<split>".
        det_format: "auto", "yolo", "voc" or "none" (fusion and segmentation only).
        classes_file: detection class file overriding the search above.
        seg_classes_file: segmentation class file (one name per line, line = label value).
        on_error: "raise" or "skip" for per-sample problems.
        box_outside: "raise" or "clip" for boxes leaving the image.
    """
    root = _existing_dir(root, "MSRS root")
    split_dir = _existing_dir(root / split, f"MSRS split {split!r}")
    labels_dir = split_dir / "labels"
    detection = _find_detection(
        det_format,
        {"yolo": [labels_dir], "voc": [split_dir / "Annotations", root / "Annotation"]},
        classes_file,
        [
            labels_dir / "classes.txt",
            root / "classes.json",
            root / "MSRS_pascal_voc_classes.json",
            root / "classes.txt",
        ],
    )
    seg_classes_path = seg_classes_file or _first_file([root / "seg_classes.txt"])
    stuff_classes = read_class_file(seg_classes_path)[0] if seg_classes_path else MSRS_SEG_CLASSES
    seg_dir = split_dir / "Segmentation_labels"
    return _read_layout(
        name or f"msrs_{split}",
        split_dir / "ir",
        split_dir / "vi",
        seg_dir=seg_dir if seg_dir.is_dir() else None,
        stuff_classes=stuff_classes,
        detection=detection,
        on_error=on_error,
        box_outside=box_outside,
    )


def msrs_lighting(sample_id: str) -> Literal["day", "night"] | None:
    """ "day" or "night" from an MSRS file stem (`00123D`, `00004N`); None for other names."""
    return {"D": "day", "N": "night"}.get(sample_id[-1:].upper())


def read_msrs_det(
    root: PathLike,
    split: str = "train",
    *,
    labels: str = "labels",
    name: str | None = None,
    on_error: OnError = "raise",
    box_outside: BoxOutside = "raise",
) -> PairDataset:
    """Index the MSRS pairs with detection boxes (`shared/data/msrs_det` layout) and our split.

    Layout: `root/classes.txt` (person, bicycle, car) and `root/test/{ir,vi,<labels>}/`, the MSRS
    test images with the YOLO boxes of the MSRS detection labels; `labels` picks the variant of
    :data:`MSRS_DET_LABELS` (objects seen in either modality, in IR only, in visible only).

    Split (deterministic, from the file names alone): the pairs are grouped by lighting (stem
    ending in `D` or `N`; other names form a third group), each group sorted by name, and the
    last `round(MSRS_DET_TEST_FRACTION * n)` of each group are "test", the rest "train" (of the
    301 pairs: 226 train, 75 test, day and night in both). "all" is every pair.

    Args:
        root: the folder that holds `classes.txt` and `test/`.
        split: "train", "test" or "all".
        labels: the label variant (a folder of `root/test/`).
        name: dataset name; default "msrs_det_<split>" (plus the variant when it is not
            "labels").
        on_error: "raise" or "skip" for per-sample problems.
        box_outside: "raise" or "clip" for boxes leaving the image.
    """
    _check_choice("split", split, ("train", "test", "all"))
    _check_choice("labels", labels, MSRS_DET_LABELS)
    root = _existing_dir(root, "MSRS detection root")
    images = _existing_dir(root / "test", "MSRS detection images")
    label_dir = _existing_dir(images / labels, f"MSRS detection labels {labels!r}")
    detection = _find_detection(
        "yolo", {"yolo": [label_dir]}, None, [root / "classes.txt", label_dir / "classes.txt"]
    )
    ir_dir = images / "ir"
    stems = None
    if split != "all":
        groups: dict[str | None, list[str]] = defaultdict(list)
        for stem in sorted(_index_images(ir_dir, "infrared")):
            groups[msrs_lighting(stem)].append(stem)
        test = set()
        for group in groups.values():
            count = round(MSRS_DET_TEST_FRACTION * len(group))
            test.update(group[len(group) - count :])
        every = {stem for group in groups.values() for stem in group}
        stems = test if split == "test" else every - test
    variant = "" if labels == "labels" else f"_{labels.removeprefix('labels_')}"
    return _read_layout(
        name or f"msrs_det_{split}{variant}",
        ir_dir,
        images / "vi",
        detection=detection,
        on_error=on_error,
        box_outside=box_outside,
        stems=stems,
    )


def read_m3fd(
    root: PathLike,
    split: str | None = None,
    *,
    name: str | None = None,
    det_format: DetFormat = "auto",
    classes_file: PathLike | None = None,
    on_error: OnError = "raise",
    box_outside: BoxOutside = "raise",
) -> PairDataset:
    """Index an M3FD folder: all pairs, or the "train" or "test" part of our split.

    M3FD has no official split. Ours is deterministic: of the IR images sorted by name, every
    `M3FD_TEST_EVERY`-th (positions 9, 19, 29, ...) is "test", the others "train" (420 and 3780
    of the release's 4200 pairs); it depends only on the file names, not on which samples
    `on_error="skip"` leaves out.

    Layout of the official `M3FD_Detection` release: `root/Ir/`, `root/Vis/`,
    `root/Annotation/<stem>.xml` (VOC). The lower-case `ir/`, `vi/` and `Annotations/` are
    accepted too, as is TarDAL's YOLO `root/labels/<stem>.txt`. VOC classes come from
    `classes_file`, else the first found of `root/classes.json`, `root/pascal_voc_classes.json`,
    `root/classes.txt`, else `M3FD_CLASSES`. YOLO labels need a class file (TarDAL orders the
    classes differently from the VOC map).

    Args:
        root: dataset root.
        split: None (all pairs), "train" or "test".
        name: dataset name; default "m3fd" or "m3fd_<split>".
        det_format: "auto", "voc", "yolo" or "none" (fusion only).
        classes_file: detection class file overriding the search above.
        on_error: "raise" or "skip" for per-sample problems.
        box_outside: "raise" or "clip" for boxes leaving the image.
    """
    if split is not None:
        _check_choice("split", split, ("train", "test"))
    root = _existing_dir(root, "M3FD root")
    detection = _find_detection(
        det_format,
        {"voc": [root / "Annotation", root / "Annotations"], "yolo": [root / "labels"]},
        classes_file,
        [root / "classes.json", root / "pascal_voc_classes.json", root / "classes.txt"],
        voc_default_classes=M3FD_CLASSES,
    )
    ir_dir = _subdir(root, ("Ir", "ir"), "M3FD infrared")
    stems = None
    if split is not None:
        ordered = sorted(_index_images(ir_dir, "infrared"))
        test = set(ordered[M3FD_TEST_EVERY - 1 :: M3FD_TEST_EVERY])
        stems = test if split == "test" else set(ordered) - test
    return _read_layout(
        name or ("m3fd" if split is None else f"m3fd_{split}"),
        ir_dir,
        _subdir(root, ("Vis", "vi"), "M3FD visible"),
        detection=detection,
        on_error=on_error,
        box_outside=box_outside,
        stems=stems,
    )


def read_llvip(
    root: PathLike,
    split: str = "train",
    *,
    name: str | None = None,
    det_format: DetFormat = "auto",
    classes_file: PathLike | None = None,
    on_error: OnError = "raise",
    box_outside: BoxOutside = "raise",
) -> PairDataset:
    """Index an LLVIP folder: `root/infrared/{split}/`, `root/visible/{split}/` and
    `root/Annotations/<stem>.xml` (VOC, class "person"; one folder for both splits).

    Classes come from `classes_file`, else `root/classes.json` or `root/classes.txt`, else
    `LLVIP_CLASSES`.

    Args:
        root: dataset root.
        split: "train" or "test".
        name: dataset name; default "llvip_<split>".
        det_format: "auto", "voc" or "none" (fusion only).
        classes_file: detection class file overriding the search above.
        on_error: "raise" or "skip" for per-sample problems.
        box_outside: "raise" or "clip" for boxes leaving the image.
    """
    root = _existing_dir(root, "LLVIP root")
    detection = _find_detection(
        det_format,
        {"voc": [root / "Annotations"]},
        classes_file,
        [root / "classes.json", root / "classes.txt"],
        voc_default_classes=LLVIP_CLASSES,
    )
    return _read_layout(
        name or f"llvip_{split}",
        root / "infrared" / split,
        root / "visible" / split,
        detection=detection,
        on_error=on_error,
        box_outside=box_outside,
    )


def read_roadscene(
    root: PathLike, *, name: str = "roadscene", on_error: OnError = "raise"
) -> PairDataset:
    """Index RoadScene pairs (no labels): `root/ir/` + `root/vi/`, or the release's
    `root/cropinfrared/` + `root/crop_LR_visible/`."""
    root = _existing_dir(root, "RoadScene root")
    return read_pairs_folder(
        _subdir(root, ("ir", "cropinfrared"), "RoadScene infrared"),
        _subdir(root, ("vi", "crop_LR_visible"), "RoadScene visible"),
        name=name,
        on_error=on_error,
    )


def read_tno(root: PathLike, *, name: str = "tno", on_error: OnError = "raise") -> PairDataset:
    """Index TNO pairs (no labels): `root/ir/` + `root/vi/` (also `IR`/`VIS`, `infrared`/
    `visible`)."""
    root = _existing_dir(root, "TNO root")
    return read_pairs_folder(
        _subdir(root, ("ir", "IR", "Ir", "infrared"), "TNO infrared"),
        _subdir(root, ("vi", "VIS", "Vis", "vis", "visible"), "TNO visible"),
        name=name,
        on_error=on_error,
    )


def read_pairs_folder(
    ir_dir: PathLike, vis_dir: PathLike, *, name: str = "pairs", on_error: OnError = "raise"
) -> PairDataset:
    """Index any two folders of IR and visible images paired by file stem (no labels).

    Images are files ending in one of `IMAGE_EXTENSIONS` (any case); other files are ignored.
    """
    return _read_layout(name, Path(ir_dir), Path(vis_dir), on_error=on_error)


def _read_layout(
    name: str,
    ir_dir: Path,
    vis_dir: Path,
    *,
    seg_dir: Path | None = None,
    stuff_classes: Sequence[str] = (),
    detection: _Detection | None = None,
    on_error: OnError = "raise",
    box_outside: BoxOutside = "raise",
    stems: set[str] | None = None,
) -> PairDataset:
    """Index the pairs of `ir_dir` and `vis_dir` (only the samples in `stems` when given)."""
    _check_choice("on_error", on_error, ("raise", "skip"))
    _check_choice("box_outside", box_outside, ("raise", "clip"))
    ir_index = _index_images(ir_dir, "infrared")
    vis_index = _index_images(vis_dir, "visible")
    seg_index = _index_images(seg_dir, "segmentation label") if seg_dir else None
    records = []
    for stem in sorted(ir_index.keys() | vis_index.keys()):
        if stems is not None and stem not in stems:
            continue
        try:
            ir_path = _partner(ir_index, stem, ir_dir, "infrared", vis_index)
            vis_path = _partner(vis_index, stem, vis_dir, "visible", ir_index)
            seg_path = _seg_partner(seg_index, stem, seg_dir) if seg_index is not None else None
            record = _make_record(stem, ir_path, vis_path, seg_path, detection, box_outside)
            if seg_path is not None and stuff_classes:
                read_seg_label(seg_path, len(stuff_classes), PairDataset.ignore_label)
            records.append(record)
        except DatasetError as error:
            if on_error == "raise":
                raise
            logger.warning("%s: skipped sample %r: %s", name, stem, error)
    if not records:
        raise DatasetError(f"{name}: no usable sample in {ir_dir} and {vis_dir}")
    dataset = PairDataset(
        name=name,
        records=records,
        thing_classes=detection.class_names if detection else (),
        stuff_classes=tuple(stuff_classes),
        thing_dataset_ids=detection.class_ids if detection else None,
    )
    dataset.validate()
    return dataset


def _make_record(
    stem: str,
    ir_path: Path,
    vis_path: Path,
    seg_path: Path | None,
    detection: _Detection | None,
    box_outside: BoxOutside,
) -> PairRecord:
    height, width = read_image_size(ir_path)
    for path, what in ((vis_path, "visible image"), (seg_path, "segmentation label")):
        if path is None:
            continue
        size = read_image_size(path)
        if size != (height, width):
            raise DatasetError(
                f"{path}: {what} is {size[1]}x{size[0]} (WxH) but its infrared partner "
                f"{ir_path} is {width}x{height}"
            )
    boxes = labels = None
    if detection is not None:
        boxes, labels = detection.read(stem, height, width, box_outside)
    return PairRecord(
        sample_id=stem,
        ir_path=str(ir_path),
        vis_path=str(vis_path),
        height=height,
        width=width,
        seg_path=str(seg_path) if seg_path else None,
        boxes=boxes,
        labels=labels,
    )


def _find_detection(
    det_format: DetFormat,
    folders: dict[str, list[Path]],
    classes_file: PathLike | None,
    class_file_candidates: list[Path],
    voc_default_classes: tuple[str, ...] | None = None,
) -> _Detection | None:
    """The first existing label folder of the requested format(s), with its classes."""
    _check_choice("det_format", det_format, ("auto", *folders, "none"))
    if det_format == "none":
        return None
    formats = list(folders) if det_format == "auto" else [det_format]
    found = [(fmt, folder) for fmt in formats for folder in folders[fmt] if folder.is_dir()]
    if not found:
        if det_format == "auto":
            return None
        raise DatasetError(
            f"det_format={det_format!r} but none of {[str(f) for f in folders[det_format]]} exists"
        )
    fmt, folder = found[0]
    class_path = classes_file or _first_file(class_file_candidates)
    if class_path is not None:
        names, ids = read_class_file(class_path)
    elif fmt == "voc" and voc_default_classes is not None:
        names, ids = voc_default_classes, None
    else:
        raise DatasetError(
            f"{folder}: detection labels need a class file; none of "
            f"{[str(p) for p in class_file_candidates]} exists (or pass classes_file=)"
        )
    logger.info("reading %s boxes from %s with %d classes", fmt, folder, len(names))
    return _Detection(fmt, folder, names, ids)


def _index_images(folder: Path, what: str) -> dict[str, list[Path]]:
    """Map stem -> image files in `folder` (one entry per file sharing that stem)."""
    if not folder.is_dir():
        raise DatasetError(f"{folder}: {what} folder does not exist")
    index: dict[str, list[Path]] = defaultdict(list)
    with os.scandir(folder) as entries:
        for entry in entries:
            path = Path(entry.path)
            if (
                entry.is_file()
                and not entry.name.startswith(".")
                and path.suffix.lower() in IMAGE_EXTENSIONS
            ):
                index[path.stem].append(path)
    if not index:
        raise DatasetError(f"{folder}: no {what} images ({', '.join(IMAGE_EXTENSIONS)}) found")
    return index


def _partner(
    index: dict[str, list[Path]],
    stem: str,
    folder: Path,
    modality: str,
    other_index: dict[str, list[Path]],
) -> Path:
    paths = index.get(stem, [])
    if not paths:
        raise DatasetError(
            f"{other_index[stem][0]}: no {modality} partner with stem {stem!r} in {folder}"
        )
    if len(paths) > 1:
        raise DatasetError(
            f"{folder}: {len(paths)} {modality} images share the stem {stem!r}: "
            f"{sorted(p.name for p in paths)}"
        )
    return paths[0]


def _seg_partner(index: dict[str, list[Path]], stem: str, folder: Path | None) -> Path:
    paths = index.get(stem, [])
    if len(paths) != 1:
        raise DatasetError(
            f"{folder}: expected one segmentation label named {stem}.<ext> for sample {stem!r}, "
            f"found {len(paths)}"
        )
    return paths[0]


def _existing_dir(path: PathLike, what: str) -> Path:
    path = Path(path)
    if not path.is_dir():
        raise DatasetError(f"{path}: {what} folder does not exist")
    return path


def _subdir(root: Path, names: Sequence[str], what: str) -> Path:
    for candidate in names:
        if (root / candidate).is_dir():
            return root / candidate
    raise DatasetError(f"{root}: no {what} folder; expected one of {list(names)}")


def _first_file(candidates: Sequence[Path]) -> Path | None:
    return next((path for path in candidates if path.is_file()), None)


def _check_choice(option: str, value: str, choices: Sequence[str]) -> None:
    if value not in choices:
        raise ValueError(f"{option} must be one of {list(choices)}, got {value!r}")
