"""OpenMMLab side of the paired datasets: `TSJPairDataset`, registered in mmengine's root
`DATASETS`, so `type="TSJPairDataset"` builds from the mmdet and the mmseg scopes alike.

One dataset serves detection, segmentation and both; `task` only chooses what the standard
`classes`/`palette` metainfo keys hold, since stock metrics and visualizers read those:
    task="det":   classes = thing (detection) classes;
    task="seg":   classes = stuff (segmentation) classes, palette = their colours;
    task="joint": classes = thing classes (mmdet metrics work unchanged; segmentation metrics
                  must read `seg_classes`).
Every task also sets `det_classes`, `seg_classes`, `det_palette`, `seg_palette`,
`ignore_index`, `modalities` and `dataset_name`. Class names come from the dataset's files.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from mmengine.dataset import BaseDataset, Compose
from mmengine.registry import DATASETS

from tsjnet_plugin.data import MODALITIES, READERS, PairDataset, PairRecord, read_dataset
from tsjnet_plugin.paths import resolve_dataset_path

from .transforms import check_pair_pipeline

__all__ = ["TASKS", "TSJPairDataset"]

TASKS = ("det", "seg", "joint")
_PALETTE_SEED = {"det": 0, "seg": 1}


@DATASETS.register_module()
class TSJPairDataset(BaseDataset):
    """Aligned infrared/visible pairs with optional boxes and segmentation labels.

    Each sample's data info holds `img_path` (visible), `ir_path`, `seg_map_path` (None
    without a label), `num_seg_classes` (with a label), `instances` (mmdet format: `bbox`
    absolute xyxy, `bbox_label` 0-based, `ignore_flag` 0; empty without boxes), `img_id` (the
    sample id), `height`, `width`, `reduce_zero_label=False` and `seg_fields=[]`. Load the
    pair with `LoadIRVisPair`.

    Args:
        reader: one of `READERS`: "msrs", "llvip", "synthetic", "m3fd" (take a split),
            "roadscene", "tno".
        split: the split of readers that have splits (default "train"); must be None for the
            others.
        reader_args: more keyword arguments for the reader (e.g. `det_format`, `on_error`;
            for "synthetic" the `write_synthetic_msrs` parameters `num_train`, `num_test`,
            `height`, `width`, `seed`).
        task: "det", "seg" or "joint": which classes `metainfo["classes"]` holds (module
            docstring).
        **kwargs: `BaseDataset` arguments; `data_root` is the dataset folder (for
            "synthetic": where it is written), a relative one under the datasets root
            (`$TSJNET_DATASETS`, else `datasets/` in the project root;
            `tsjnet_plugin.paths.resolve_dataset_path`), never the working directory. `filter_cfg` accepts mmdet's
            `filter_empty_gt` and `min_size` (applied outside `test_mode`).

    Example (in an mmdet or mmseg config)::

        dict(type="TSJPairDataset", reader="msrs", data_root="MSRS", split="train",
             task="joint", pipeline=[dict(type="LoadIRVisPair"), ...])
    """

    def __init__(
        self,
        reader: str = "msrs",
        split: str | None = None,
        reader_args: Mapping[str, Any] | None = None,
        task: str = "joint",
        **kwargs: Any,
    ) -> None:
        if reader not in READERS:
            raise ValueError(f"reader must be one of {sorted(READERS)}, got {reader!r}")
        if task not in TASKS:
            raise ValueError(f"task must be one of {list(TASKS)}, got {task!r}")
        takes_split = READERS[reader][1]
        if split is not None and not takes_split:
            raise ValueError(f"reader {reader!r} has no splits, got split={split!r}")
        self.reader = reader
        self.split = (split or "train") if takes_split else None
        self.reader_args = dict(reader_args or {})
        self.task = task
        self._pairs: PairDataset | None = None
        self._pair_metainfo_set = False
        if kwargs.get("data_root"):
            kwargs["data_root"] = str(resolve_dataset_path(kwargs["data_root"]))
        super().__init__(**kwargs)
        check_pair_pipeline(self.pipeline.transforms, self._where)

    @property
    def _where(self) -> str:
        return f"TSJPairDataset(reader={self.reader!r}, split={self.split!r}) pipeline"

    def update_skip_type_keys(self, skip_type_keys: Sequence[str]) -> None:
        """Drop the pipeline's transforms of these types (what mmdet's `YOLOXModeSwitchHook`
        asks of its dataset for the last epochs; the pair needs no `MultiImageMixDataset`)."""
        kept = [t for t in self.pipeline.transforms if type(t).__name__ not in skip_type_keys]
        self.pipeline = Compose(kept)

    @property
    def metainfo(self) -> dict:
        """Meta information, including the class names (which indexes the dataset once, even
        with `lazy_init=True`)."""
        self._set_pair_metainfo()
        return super().metainfo

    def load_data_list(self) -> list[dict]:
        """One data info per pair (keys: class docstring)."""
        self._set_pair_metainfo()
        pairs = self._index()
        self._pairs = None  # the data list replaces it; keep no second copy
        num_seg_classes = len(pairs.stuff_classes)
        return [_data_info(record, num_seg_classes) for record in pairs]

    def filter_data(self) -> list[dict]:
        """mmdet's filters: drop samples without boxes (`filter_empty_gt`) or smaller than
        `min_size` pixels on a side; nothing is dropped in `test_mode`."""
        if self.test_mode or not self.filter_cfg:
            return self.data_list
        filter_empty_gt = self.filter_cfg.get("filter_empty_gt", False)
        min_size = self.filter_cfg.get("min_size", 0)
        return [
            info
            for info in self.data_list
            if not (filter_empty_gt and not info["instances"])
            and min(info["height"], info["width"]) >= min_size
        ]

    def get_cat_ids(self, idx: int) -> list[int]:
        """The 0-based detection labels of sample `idx` (for `ClassBalancedDataset`)."""
        return [instance["bbox_label"] for instance in self.get_data_info(idx)["instances"]]

    def _index(self) -> PairDataset:
        if self._pairs is None:
            if not self.data_root:
                raise ValueError(f"TSJPairDataset(reader={self.reader!r}) needs a data_root")
            root = Path(self.data_root)
            self._pairs = read_dataset(self.reader, root, self.split, **self.reader_args)
        return self._pairs

    def _set_pair_metainfo(self) -> None:
        """Add the class metainfo read from the dataset to what the config gave."""
        if self._pair_metainfo_set:
            return
        pairs = self._index()
        if self.task == "det" and not pairs.thing_classes:
            raise ValueError(f"task='det' but dataset {pairs.name!r} has no detection labels")
        if self.task == "seg" and not pairs.stuff_classes:
            raise ValueError(f"task='seg' but dataset {pairs.name!r} has no segmentation labels")
        derived = _pair_metainfo(pairs, self.task)
        given_classes = self._metainfo.get("classes")
        if given_classes is not None and tuple(given_classes) != derived["classes"]:
            raise ValueError(
                f"dataset {pairs.name!r}: metainfo classes {tuple(given_classes)} differ from "
                f"the {derived['classes']} its files give (task={self.task!r}); class subsets "
                "are not supported, drop `classes` from metainfo"
            )
        for key, value in derived.items():
            self._metainfo.setdefault(key, value)
        self._pair_metainfo_set = True


def _pair_metainfo(pairs: PairDataset, task: str) -> dict[str, Any]:
    det_palette = _palette(len(pairs.thing_classes), _PALETTE_SEED["det"])
    seg_palette = _palette(len(pairs.stuff_classes), _PALETTE_SEED["seg"])
    seg = task == "seg"
    return {
        "classes": pairs.stuff_classes if seg else pairs.thing_classes,
        "palette": seg_palette if seg else det_palette,
        "det_classes": pairs.thing_classes,
        "seg_classes": pairs.stuff_classes,
        "det_palette": det_palette,
        "seg_palette": seg_palette,
        "ignore_index": pairs.ignore_label,
        "modalities": MODALITIES,
        "dataset_name": pairs.name,
    }


def _palette(num_classes: int, seed: int) -> list[tuple[int, int, int]]:
    """`num_classes` RGB colours, the same on every run."""
    colours = np.random.default_rng(seed).integers(0, 256, (num_classes, 3))
    return [(int(r), int(g), int(b)) for r, g, b in colours]


def _data_info(record: PairRecord, num_seg_classes: int) -> dict[str, Any]:
    instances = []
    if record.boxes is not None and record.labels is not None:
        instances = [
            {"bbox": box.tolist(), "bbox_label": int(label), "ignore_flag": 0}
            for box, label in zip(record.boxes, record.labels)
        ]
    info: dict[str, Any] = {
        "img_path": record.vis_path,
        "ir_path": record.ir_path,
        "seg_map_path": record.seg_path,
        "img_id": record.sample_id,
        "height": record.height,
        "width": record.width,
        "instances": instances,
        "reduce_zero_label": False,
        "seg_fields": [],
    }
    if record.seg_path is not None:
        info["num_seg_classes"] = num_seg_classes
    return info
