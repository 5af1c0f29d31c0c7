"""detectron2 side of the paired datasets: standard dataset dicts, catalog registration and a
mapper that applies one geometric transform to the visible image, the IR image, the
segmentation label and the boxes.

Dataset dict of one pair (detectron2's standard keys plus the IR):
    file_name: visible image path; ir_file_name: IR image path; height, width: H, W;
    image_id: the record's sample id (str, unique in the dataset);
    sem_seg_file_name (when labelled): 8-bit index PNG, with sem_seg_num_classes (S) and
        sem_seg_ignore_label, which `PairDatasetMapper` uses to validate the label values;
    annotations (when the dataset has boxes, possibly empty): dicts with bbox (absolute xyxy),
        bbox_mode=BoxMode.XYXY_ABS, category_id (0-based index into thing_classes), iscrowd=0.

Metadata (`MetadataCatalog`): thing_classes, stuff_classes, ignore_label, evaluator_type
("tsj_pair": one dataset carries boxes and masks, so the trainer picks the evaluators from the
classes it has rather than from a single stock type), modalities=("visible", "infrared") and,
when the class file gave ids, thing_dataset_id_to_contiguous_id. Class names come from the
dataset's files, so they are set when the dataset is first loaded unless they were given to
`register_pair_dataset`.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from detectron2.config import CfgNode, configurable
from detectron2.data import DatasetCatalog, MetadataCatalog
from detectron2.data import detection_utils as utils
from detectron2.data import transforms as T
from detectron2.structures import Boxes, BoxMode, Instances

from tsjnet_plugin.data import (
    MODALITIES,
    SYNTHETIC_STUFF_CLASSES,
    SYNTHETIC_THING_CLASSES,
    DatasetError,
    PairDataset,
    read_dataset,
    read_ir_levels,
    read_seg_label,
    read_visible,
    to_levels_255,
    write_synthetic_msrs,
)
from tsjnet_plugin.paths import DATASETS_ENV, datasets_root

__all__ = [
    "EVALUATOR_TYPE",
    "PairDatasetMapper",
    "check_builtin_folders",
    "pair_dataset_to_dicts",
    "prepare_synthetic",
    "register_builtin",
    "register_pair_dataset",
    "transform_ir",
]

EVALUATOR_TYPE = "tsj_pair"

# name -> (reader, folder under the datasets root, split)
_BUILTIN: dict[str, tuple[str, str, str | None]] = {
    "tsj_synthetic_train": ("synthetic", "synthetic", "train"),
    "tsj_synthetic_test": ("synthetic", "synthetic", "test"),
    "msrs_train": ("msrs", "MSRS", "train"),
    "msrs_test": ("msrs", "MSRS", "test"),
    "m3fd": ("m3fd", "M3FD", None),
    "m3fd_train": ("m3fd", "M3FD", "train"),
    "m3fd_test": ("m3fd", "M3FD", "test"),
    "llvip_train": ("llvip", "LLVIP", "train"),
    "llvip_test": ("llvip", "LLVIP", "test"),
    "msrs_det_train": ("msrs_det", "msrs_det", "train"),
    "msrs_det_test": ("msrs_det", "msrs_det", "test"),
}
# The other label variants of the MSRS detection pairs: name -> (split, labels folder).
_MSRS_DET_VARIANTS = {
    f"msrs_det_{split}_{modality}": (split, f"labels_{modality}")
    for split in ("train", "test")
    for modality in ("infrared", "visible")
}
_BUILTIN.update(
    {name: ("msrs_det", "msrs_det", split) for name, (split, _) in _MSRS_DET_VARIANTS.items()}
)
_LAYOUT_HINT = {"msrs": "MSRS", "m3fd": "M3FD", "llvip": "LLVIP", "msrs_det": "msrs_det"}


def pair_dataset_to_dicts(ds: PairDataset) -> list[dict[str, Any]]:
    """Turn a `PairDataset` into detectron2 dataset dicts (keys: see the module docstring)."""
    dicts = []
    for record in ds:
        item: dict[str, Any] = {
            "file_name": record.vis_path,
            "ir_file_name": record.ir_path,
            "height": record.height,
            "width": record.width,
            "image_id": record.sample_id,
        }
        if record.seg_path is not None:
            item["sem_seg_file_name"] = record.seg_path
            item["sem_seg_num_classes"] = len(ds.stuff_classes)
            item["sem_seg_ignore_label"] = ds.ignore_label
        if record.boxes is not None and record.labels is not None:
            item["annotations"] = [
                {
                    "bbox": box.tolist(),
                    "bbox_mode": BoxMode.XYXY_ABS,
                    "category_id": int(label),
                    "iscrowd": 0,
                }
                for box, label in zip(record.boxes, record.labels)
            ]
        dicts.append(item)
    return dicts


@dataclass(frozen=True)
class _PairDicts:
    """The function registered in `DatasetCatalog`: loads, fills the metadata, converts."""

    name: str
    loader: Callable[[], PairDataset]

    def __call__(self) -> list[dict[str, Any]]:
        dataset = self.loader()
        if not isinstance(dataset, PairDataset):
            raise TypeError(
                f"dataset {self.name!r}: loader {self.loader!r} returned "
                f"{type(dataset).__name__}, expected a PairDataset"
            )
        _set_metadata(self.name, _class_metadata(dataset))
        return pair_dataset_to_dicts(dataset)


def register_pair_dataset(
    name: str,
    loader: Callable[[], PairDataset],
    evaluator_type: str = EVALUATOR_TYPE,
    *,
    thing_classes: Sequence[str] | None = None,
    stuff_classes: Sequence[str] | None = None,
) -> None:
    """Register a paired dataset in `DatasetCatalog` and `MetadataCatalog`.

    `loader` is called only when the dataset is used (`DatasetCatalog.get(name)`); that call
    also sets the class metadata read from the dataset's files. Registering the same name again
    with an equal loader does nothing.

    Args:
        name: the dataset name, e.g. "msrs_train".
        loader: a zero-argument callable returning the `PairDataset`.
        evaluator_type: `MetadataCatalog` evaluator type; the default "tsj_pair" means "boxes
            and/or masks and a fused image": the trainer picks the evaluators from the classes.
        thing_classes: detection class names, to set in the metadata now rather than at
            loading (loading then checks that the dataset's files agree).
        stuff_classes: segmentation class names, likewise.

    Raises:
        ValueError: `name` is already registered with another loader.
    """
    if name in DatasetCatalog.list():
        existing = DatasetCatalog[name]
        if isinstance(existing, _PairDicts) and existing.loader == loader:
            return
        registered = existing.loader if isinstance(existing, _PairDicts) else existing
        raise ValueError(
            f"dataset {name!r} is already registered with loader {registered!r}, not "
            f"{loader!r}; call DatasetCatalog.remove({name!r}) and "
            f"MetadataCatalog.remove({name!r}) first to replace it"
        )
    metadata: dict[str, Any] = {"evaluator_type": evaluator_type, "modalities": MODALITIES}
    if thing_classes is not None:
        metadata["thing_classes"] = list(thing_classes)
    if stuff_classes is not None:
        metadata["stuff_classes"] = list(stuff_classes)
    _set_metadata(name, metadata)
    DatasetCatalog.register(name, _PairDicts(name, loader))


def _class_metadata(dataset: PairDataset) -> dict[str, Any]:
    metadata: dict[str, Any] = {
        "thing_classes": list(dataset.thing_classes),
        "stuff_classes": list(dataset.stuff_classes),
        "ignore_label": dataset.ignore_label,
    }
    if dataset.thing_dataset_ids is not None:
        metadata["thing_dataset_id_to_contiguous_id"] = {
            dataset_id: index for index, dataset_id in enumerate(dataset.thing_dataset_ids)
        }
    return metadata


def _set_metadata(name: str, values: dict[str, Any]) -> None:
    """Set `values` on the metadata of `name`, refusing to change a value already there."""
    metadata = MetadataCatalog.get(name)
    for key, value in values.items():
        old = metadata.get(key)
        if old is not None and old != value:
            raise ValueError(
                f"dataset {name!r}: {key}={value!r} conflicts with {old!r} already in "
                "MetadataCatalog (given at registration or by an earlier load)"
            )
    metadata.set(**values)


@dataclass(frozen=True)
class _BuiltinLoader:
    """Loads one of the standard datasets from its folder (compared by value, so registering
    the builtins twice with the same root is a no-op)."""

    name: str
    reader: str
    folder: Path
    split: str | None

    def __call__(self) -> PairDataset:
        if self.reader != "synthetic" and not self.folder.is_dir():
            raise DatasetError(
                f"{self.folder}: folder of dataset {self.name!r} does not exist; put the "
                f"{_LAYOUT_HINT[self.reader]} layout (docs/data.md) there, or point "
                f"{DATASETS_ENV} or register_builtin(root=...) at the folder that holds it"
            )
        options = {}
        if self.name in _MSRS_DET_VARIANTS:
            options["labels"] = _MSRS_DET_VARIANTS[self.name][1]
        return read_dataset(self.reader, self.folder, self.split, name=self.name, **options)


def prepare_synthetic(
    dataset_names: Sequence[str], root: str | os.PathLike[str] | None = None
) -> Path | None:
    """Write the embedded synthetic set now (reused if present) if one of `dataset_names` (a
    config's `DATASETS.TRAIN + DATASETS.TEST`) is a synthetic builtin; else touch nothing.
    Call it before starting worker processes: otherwise every rank would write it on first use,
    concurrently.

    Returns:
        The synthetic set's folder, or None when no name uses it.

    Raises:
        DatasetError: the folder holds files the writer did not write (`write_synthetic_msrs`).
    """
    if not any(name in _BUILTIN and _BUILTIN[name][0] == "synthetic" for name in dataset_names):
        return None
    _, folder, _ = _BUILTIN["tsj_synthetic_train"]
    return write_synthetic_msrs(datasets_root(root) / folder)


def check_builtin_folders(
    dataset_names: Sequence[str], root: str | os.PathLike[str] | None = None
) -> None:
    """Raise a one-line `DatasetError` for the first of `dataset_names` (a config's
    `DATASETS.TRAIN + DATASETS.TEST`) that is a builtin name whose folder is missing, before any
    model is built. The synthetic set is written by `prepare_synthetic`, so it is not checked."""
    base = datasets_root(root)
    for name in dataset_names:
        reader, folder, _ = _BUILTIN.get(name, ("", "", None))
        if reader and reader != "synthetic" and not (base / folder).is_dir():
            raise DatasetError(
                f"dataset {name}: {base / folder} does not exist; put the {_LAYOUT_HINT[reader]} "
                f"folder there or set {DATASETS_ENV} to the folder that holds it (docs/data.md)"
            )


def register_builtin(root: str | os.PathLike[str] | None = None) -> list[str]:
    """Register the standard dataset names (nothing is read until a dataset is used).

    `tsj_synthetic_train` / `tsj_synthetic_test`: the embedded synthetic set, written to
    `root/synthetic` with `write_synthetic_msrs`' defaults on first use (reused afterwards).
    `msrs_train` / `msrs_test` (`root/MSRS`), `m3fd` (all), `m3fd_train` / `m3fd_test`
    (`root/M3FD`, the deterministic split of `read_m3fd`), `llvip_train` /
    `llvip_test` (`root/LLVIP`), `msrs_det_train` / `msrs_det_test` (`root/msrs_det`, the MSRS
    pairs with detection boxes and the split of `read_msrs_det`; `..._infrared` and
    `..._visible` for the other label variants): a missing folder raises `DatasetError` when
    the dataset is loaded, not here.

    Args:
        root: the datasets folder; default: the `TSJNET_DATASETS` environment variable, else
            `datasets/` in the project root (`tsjnet_plugin.paths.datasets_root`), whatever the
            working directory.

    Returns:
        The registered names.

    Raises:
        ValueError: a name is already registered with another loader (e.g. another root).
    """
    base = datasets_root(root)
    for name, (reader, folder, split) in _BUILTIN.items():
        synthetic = reader == "synthetic"
        register_pair_dataset(
            name,
            _BuiltinLoader(name, reader, base / folder, split),
            thing_classes=SYNTHETIC_THING_CLASSES if synthetic else None,
            stuff_classes=SYNTHETIC_STUFF_CLASSES if synthetic else None,
        )
    return list(_BUILTIN)


class PairDatasetMapper:
    """Map a pair's dataset dict to model inputs, with one transform for every modality.

    The augmentations run on `T.AugInput(visible, boxes=..., sem_seg=...)`; the transforms they
    return are then applied to the IR image, read at its native bit depth (`read_ir_levels`):
    8-bit IR stays uint8 and goes through exactly the code path (PIL for resizing) of the
    visible image; 16-bit IR goes through detectron2's float path (`torch` interpolation for
    resizing, which does not antialias when shrinking). Boxes are clipped to the image and empty
    ones dropped. The model scales both images to [0, 1] (`to_unit_range`) at its input.

    Returns a dict with the input dict's keys except "annotations", plus:
        image: [3, H', W'] uint8, RGB (the fusion model converts to the detector's
            `INPUT.FORMAT`); with `stack_ir` instead [4, H', W'] float32 on the 0-255 scale,
            the visible channels in `image_format` order then the IR (what a stock
            meta-architecture with `build_tsjnet_backbone` takes);
        ir: [1, H', W'] uint8 (8-bit IR) or float32 in [0, 1] (16-bit IR); not with `stack_ir`;
        sem_seg: [H', W'] int64 in [0, S) or the ignore label (255), when the dict has
            "sem_seg_file_name";
        instances: `Instances` with gt_boxes (absolute xyxy in the transformed image) and
            gt_classes (int64), possibly empty, when the dict has "annotations" (in inference
            too; detectron2's models ignore them there).
    height and width stay the original size, as detectron2's models expect.

    Raises:
        DatasetError: naming the file, for an unreadable image, an IR/visible size mismatch or
            a segmentation value outside [0, S) that is not the ignore label.
    """

    @configurable
    def __init__(
        self,
        is_train: bool,
        *,
        augmentations: Sequence[T.Augmentation | T.Transform],
        stack_ir: bool = False,
        image_format: str = "RGB",
    ) -> None:
        """
        Args:
            is_train: whether the mapper feeds training (kept for detectron2's conventions).
            augmentations: detectron2 augmentations or transforms, applied in order.
            stack_ir: return one 4-channel `image` (visible + IR) for `build_tsjnet_backbone`.
            image_format: "RGB" or "BGR", the visible channel order of a stacked `image`.
        """
        if image_format not in ("RGB", "BGR"):
            raise ValueError(f"INPUT.FORMAT must be RGB or BGR, got {image_format!r}")
        self.is_train = is_train
        self.augmentations = T.AugmentationList(list(augmentations))
        self.stack_ir = stack_ir
        self.image_format = image_format

    @classmethod
    def from_config(cls, cfg: CfgNode, is_train: bool = True) -> dict[str, Any]:
        """Augmentations from the standard keys, as detectron2's `DatasetMapper` builds them:
        `INPUT.MIN_SIZE_*`/`MAX_SIZE_*` resizing, `INPUT.RANDOM_FLIP`, and `INPUT.CROP` first
        when enabled in training; stacked 4-channel images in `INPUT.FORMAT` order when
        `MODEL.BACKBONE.NAME` is "build_tsjnet_backbone"."""
        augmentations = utils.build_augmentation(cfg, is_train)
        if cfg.INPUT.CROP.ENABLED and is_train:
            augmentations.insert(0, T.RandomCrop(cfg.INPUT.CROP.TYPE, cfg.INPUT.CROP.SIZE))
        return {
            "is_train": is_train,
            "augmentations": augmentations,
            "stack_ir": cfg.MODEL.BACKBONE.NAME == "build_tsjnet_backbone",
            "image_format": cfg.INPUT.FORMAT,
        }

    def __call__(self, dataset_dict: dict[str, Any]) -> dict[str, Any]:
        vis, ir = _read_pair(dataset_dict)
        sem_seg = _read_sem_seg(dataset_dict)
        annotations = dataset_dict.get("annotations")
        boxes = classes = None
        if annotations is not None:
            boxes, classes = _annotation_arrays(annotations)
        aug_input = T.AugInput(vis, boxes=boxes, sem_seg=sem_seg)
        transforms = self.augmentations(aug_input)
        image = aug_input.image
        image_shape = image.shape[:2]
        ir = transform_ir(transforms, ir)
        if ir.shape != image_shape:
            raise RuntimeError(
                f"{dataset_dict['ir_file_name']}: transforms {transforms} gave the IR shape "
                f"{ir.shape} but the visible shape {image_shape}"
            )
        out = {key: value for key, value in dataset_dict.items() if key != "annotations"}
        if self.stack_ir:
            visible = image if self.image_format == "RGB" else image[..., ::-1]
            stacked = np.concatenate(
                [visible, to_levels_255(ir)[..., None]], axis=-1, dtype=np.float32
            )
            out["image"] = torch.as_tensor(np.ascontiguousarray(stacked.transpose(2, 0, 1)))
        else:
            out["image"] = torch.as_tensor(np.ascontiguousarray(image.transpose(2, 0, 1)))
            out["ir"] = torch.from_numpy(np.array(ir, order="C"))[None]  # a writable copy
        if sem_seg is not None:
            out["sem_seg"] = torch.as_tensor(aug_input.sem_seg.astype(np.int64))
        if boxes is not None and classes is not None:
            out["instances"] = _instances(aug_input.boxes, classes, image_shape)
        return out


def _read_pair(dataset_dict: dict[str, Any]) -> tuple[np.ndarray, np.ndarray]:
    """Visible [H, W, 3] uint8 RGB and IR [H, W] uint8 or uint16 (native), sizes checked."""
    vis_path, ir_path = dataset_dict["file_name"], dataset_dict["ir_file_name"]
    vis = read_visible(vis_path)
    ir = read_ir_levels(ir_path)
    expected = (dataset_dict["height"], dataset_dict["width"])
    for path, shape in ((vis_path, vis.shape[:2]), (ir_path, ir.shape)):
        if shape != expected:
            raise DatasetError(
                f"{path}: image is {shape[1]}x{shape[0]} (WxH) but the dataset dict says "
                f"{expected[1]}x{expected[0]}"
            )
    return vis, ir


def _read_sem_seg(dataset_dict: dict[str, Any]) -> np.ndarray | None:
    """[H, W] uint8 label (8-bit PNG values), validated; None without a label file. Dicts made
    elsewhere, without sem_seg_num_classes, are read unvalidated."""
    path = dataset_dict.get("sem_seg_file_name")
    if path is None:
        return None
    labels = read_seg_label(
        path,
        dataset_dict.get("sem_seg_num_classes", 256),
        dataset_dict.get("sem_seg_ignore_label", 255),
    )
    if labels.shape != (dataset_dict["height"], dataset_dict["width"]):
        raise DatasetError(
            f"{path}: label is {labels.shape[1]}x{labels.shape[0]} (WxH) but the dataset dict "
            f"says {dataset_dict['width']}x{dataset_dict['height']}"
        )
    return labels.astype(np.uint8)


def _annotation_arrays(annotations: list[dict[str, Any]]) -> tuple[np.ndarray, np.ndarray]:
    """Boxes [N, 4] float32 absolute xyxy and classes [N] int64 of the non-crowd objects."""
    objects = [obj for obj in annotations if obj.get("iscrowd", 0) == 0]
    boxes = np.array(
        [BoxMode.convert(obj["bbox"], obj["bbox_mode"], BoxMode.XYXY_ABS) for obj in objects],
        dtype=np.float32,
    ).reshape(-1, 4)
    classes = np.array([obj["category_id"] for obj in objects], dtype=np.int64)
    return boxes, classes


def transform_ir(transforms: T.TransformList, ir: np.ndarray) -> np.ndarray:
    """Apply `transforms` to an IR image [H, W], chosen by its dtype (no guessing):

    * uint8: the uint8 path, filtered exactly like the visible image; returns uint8;
    * uint16 or float in [0, 1]: scaled to [0, 1] (uint16 / 65535) and sent through the float
      path; returns float32 in [0, 1].
    """
    if ir.dtype == np.uint8:
        return transforms.apply_image(ir)
    if ir.dtype == np.uint16:
        ir = ir.astype(np.float32) / np.float32(65535.0)
    elif not np.issubdtype(ir.dtype, np.floating):
        raise TypeError(f"IR dtype {ir.dtype} is not uint8, uint16 or float")
    out = transforms.apply_image(ir.astype(np.float32))
    return np.clip(out, 0.0, 1.0).astype(np.float32)


def _instances(boxes: np.ndarray, classes: np.ndarray, image_shape: tuple[int, int]) -> Instances:
    """Instances with gt_boxes clipped to the image and gt_classes; empty boxes dropped."""
    instances = Instances(image_shape)
    gt_boxes = Boxes(torch.as_tensor(boxes, dtype=torch.float32).reshape(-1, 4))
    gt_boxes.clip(image_shape)
    instances.gt_boxes = gt_boxes
    instances.gt_classes = torch.as_tensor(classes, dtype=torch.int64)
    return utils.filter_empty_instances(instances)
