"""A tiny MSRS layout for the adapter tests (tests/d2, tests/mm): two samples, "a" and "b", whose
IR, visible, segmentation and VOC box files all hold the same bright box.

Imported as `tiny_msrs`: the test folders have no `__init__.py`, so pytest's default ("prepend")
import mode puts this folder on `sys.path` when it loads `tests/conftest.py`, for every test run
under `tests/`.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np
from PIL import Image

from tsjnet_plugin.data.labels import write_voc_xml

__all__ = [
    "BOX",
    "HEIGHT",
    "STUFF_CLASSES",
    "THING_CLASSES",
    "VIS_BACKGROUND",
    "VIS_BOX",
    "WIDTH",
    "write_msrs",
]

HEIGHT, WIDTH = 64, 80
BOX = (12, 10, 36, 30)  # x1, y1, x2, y2: a bright "person" in IR and visible, class 1 in seg
THING_CLASSES = ("person", "car")
STUFF_CLASSES = ("background", "person", "car")
VIS_BACKGROUND, VIS_BOX = (20, 20, 20), (250, 240, 230)  # RGB


def write_msrs(root: Path, ir_levels: Mapping[str, tuple[int, int, type[np.integer]]]) -> Path:
    """Write the layout under `root` (the train split, classes.txt, seg_classes.txt).

    Args:
        root: the dataset folder to create.
        ir_levels: one sample per stem: (background level, box level, dtype) of its IR image,
            e.g. {"a": (20, 250, np.uint8), "b": (5000, 60000, np.uint16)}.

    Returns:
        `root`.
    """
    split = root / "train"
    for sub in ("ir", "vi", "Segmentation_labels", "Annotations"):
        (split / sub).mkdir(parents=True)
    x1, y1, x2, y2 = BOX
    for stem, (low, high, dtype) in ir_levels.items():
        ir = np.full((HEIGHT, WIDTH), low, dtype)
        ir[y1:y2, x1:x2] = high
        Image.fromarray(ir).save(split / "ir" / f"{stem}.png")
        vis = np.empty((HEIGHT, WIDTH, 3), np.uint8)
        vis[:] = VIS_BACKGROUND
        vis[y1:y2, x1:x2] = VIS_BOX
        Image.fromarray(vis).save(split / "vi" / f"{stem}.png")
        seg = np.zeros((HEIGHT, WIDTH), np.uint8)
        seg[y1:y2, x1:x2] = 1
        Image.fromarray(seg).save(split / "Segmentation_labels" / f"{stem}.png")
        write_voc_xml(
            split / "Annotations" / f"{stem}.xml",
            f"{stem}.png",
            HEIGHT,
            WIDTH,
            np.array([BOX], np.float32),
            np.array([0]),
            THING_CLASSES,
        )
    (root / "classes.txt").write_text("\n".join(THING_CLASSES) + "\n")
    (root / "seg_classes.txt").write_text("\n".join(STUFF_CLASSES) + "\n")
    return root
