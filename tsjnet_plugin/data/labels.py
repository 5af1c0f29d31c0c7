"""Detection label files: class lists, PASCAL VOC XML, YOLO txt, and the box-in-image check.

Shape shorthand in this module:
    N: number of boxes in one label file; K: number of thing classes.
Boxes are absolute pixel xyxy float32; labels are int64 indices into the class list.
"""

from __future__ import annotations

import json
import logging
import os
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from pathlib import Path
from typing import Literal

import numpy as np

from .records import DatasetError

__all__ = [
    "BoxOutside",
    "fit_boxes_to_image",
    "read_class_file",
    "read_voc_boxes",
    "read_yolo_boxes",
    "write_voc_xml",
]

logger = logging.getLogger(__name__)

PathLike = str | os.PathLike[str]
BoxOutside = Literal["raise", "clip"]

# Coordinates this far (in pixels) past the image border are float noise, not annotation errors.
_BORDER_TOLERANCE = 1e-3


def read_class_file(path: PathLike) -> tuple[tuple[str, ...], tuple[int, ...] | None]:
    """Read a class list.

    Formats:
        - `.txt`: one class name per line; the line order is the class index.
        - `.json` object `{name: id}` (TSJNet's `MSRS_pascal_voc_classes.json`): classes are
          ordered by id, and the ids are returned too.
        - `.json` list `[name, ...]`: like `.txt`.

    Returns:
        (names, ids): K names and, for an `{name: id}` map, their K ids (else None).
    """
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as error:
        raise DatasetError(f"{path}: cannot read class file ({error})") from None
    if str(path).endswith(".json"):
        names, ids = _parse_class_json(path, text)
    else:
        names, ids = tuple(line.strip() for line in text.splitlines() if line.strip()), None
    if not names:
        raise DatasetError(f"{path}: class file lists no classes")
    if len(set(names)) != len(names):
        raise DatasetError(f"{path}: class file repeats a class name: {list(names)}")
    return names, ids


def _parse_class_json(path: PathLike, text: str) -> tuple[tuple[str, ...], tuple[int, ...] | None]:
    try:
        content = json.loads(text)
    except json.JSONDecodeError as error:
        raise DatasetError(f"{path}: invalid JSON ({error})") from None
    if isinstance(content, list) and all(isinstance(name, str) for name in content):
        return tuple(content), None
    if isinstance(content, dict) and all(isinstance(i, int) for i in content.values()):
        ordered = sorted(content.items(), key=lambda item: item[1])
        ids = tuple(i for _, i in ordered)
        if len(set(ids)) != len(ids):
            raise DatasetError(f"{path}: two classes share an id: {content}")
        return tuple(name for name, _ in ordered), ids
    raise DatasetError(f"{path}: expected a JSON object {{name: id}} or a list of class names")


def read_voc_boxes(path: PathLike, class_names: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """Read the objects of a PASCAL VOC XML file.

    Coordinates are used as written (absolute pixels, no -1 offset, as the official code does).

    Returns:
        boxes [N, 4] float32 xyxy and labels [N] int64 indices into `class_names`.
    """
    try:
        root = ET.parse(path).getroot()
    except FileNotFoundError:
        raise DatasetError(f"{path}: annotation file does not exist") from None
    except (ET.ParseError, OSError) as error:
        raise DatasetError(f"{path}: not a readable XML file ({error})") from None
    index = {name: i for i, name in enumerate(class_names)}
    boxes, labels = [], []
    for obj in root.iter("object"):
        name = (obj.findtext("name") or "").strip()
        if name not in index:
            raise DatasetError(
                f"{path}: unknown class {name!r}; known classes: {list(class_names)}"
            )
        box = obj.find("bndbox")
        try:
            coords = [float(box.findtext(key)) for key in ("xmin", "ymin", "xmax", "ymax")]
        except (AttributeError, TypeError, ValueError):
            raise DatasetError(
                f"{path}: object {name!r} needs a bndbox with numeric xmin, ymin, xmax, ymax"
            ) from None
        boxes.append(coords)
        labels.append(index[name])
    return _as_arrays(boxes, labels)


def read_yolo_boxes(
    path: PathLike, num_classes: int, height: int, width: int
) -> tuple[np.ndarray, np.ndarray]:
    """Read a YOLO txt label file: one `class cx cy w h` line per object, normalised to [0, 1].

    Args:
        path: the label file.
        num_classes: K; class indices must be in [0, K).
        height: H of the image the file labels.
        width: W of that image.

    Returns:
        boxes [N, 4] float32 absolute pixel xyxy and labels [N] int64.
    """
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except OSError as error:
        raise DatasetError(f"{path}: cannot read label file ({error})") from None
    boxes, labels = [], []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        fields = line.split()
        try:
            if len(fields) != 5:
                raise ValueError
            label, (cx, cy, w, h) = int(fields[0]), map(float, fields[1:])
        except ValueError:
            raise DatasetError(
                f"{path}:{number}: expected 'class cx cy w h', got {line.strip()!r}"
            ) from None
        if not 0 <= label < num_classes:
            raise DatasetError(
                f"{path}:{number}: unknown class index {label}; expected 0..{num_classes - 1}"
            )
        boxes.append(
            [
                (cx - w / 2) * width,
                (cy - h / 2) * height,
                (cx + w / 2) * width,
                (cy + h / 2) * height,
            ]
        )
        labels.append(label)
    return _as_arrays(boxes, labels)


def fit_boxes_to_image(
    boxes: np.ndarray,
    labels: np.ndarray,
    height: int,
    width: int,
    outside: BoxOutside,
    source: PathLike,
) -> tuple[np.ndarray, np.ndarray]:
    """Check that boxes lie inside the H x W image and are not empty.

    Args:
        boxes: [N, 4] float32 xyxy.
        labels: [N] int64.
        height: H.
        width: W.
        outside: "raise" raises on the first box that is empty or leaves the image; "clip"
            clips boxes to the image and drops (with a logged warning) those left empty.
        source: the label file, named in messages.

    Returns:
        The kept boxes [M, 4] float32 and labels [M] int64, M <= N.
    """
    if outside not in ("raise", "clip"):
        raise ValueError(f"box_outside must be 'raise' or 'clip', got {outside!r}")
    limits = np.array([width, height, width, height], dtype=np.float32)
    near = np.clip(boxes, -_BORDER_TOLERANCE, limits + _BORDER_TOLERANCE)
    boxes = np.where(near == boxes, np.clip(boxes, 0, limits), boxes).astype(np.float32)
    if outside == "clip":
        boxes = np.clip(boxes, 0, limits).astype(np.float32)
    x1, y1, x2, y2 = boxes.T
    inside = (x1 >= 0) & (y1 >= 0) & (x2 <= width) & (y2 <= height)
    valid = inside & (x2 > x1) & (y2 > y1)
    if outside == "raise" and not valid.all():
        raise DatasetError(
            f"{source}: box {boxes[~valid][0].tolist()} (xyxy) is empty or outside the "
            f"{width}x{height} (WxH) image"
        )
    if not valid.all():
        logger.warning(
            "%s: dropped %d box(es) left empty after clipping to the %dx%d image",
            source,
            int((~valid).sum()),
            width,
            height,
        )
    return boxes[valid], labels[valid]


def write_voc_xml(
    path: PathLike,
    filename: str,
    height: int,
    width: int,
    boxes: np.ndarray,
    labels: np.ndarray,
    class_names: Sequence[str],
) -> None:
    """Write boxes [N, 4] xyxy and labels [N] (indices into `class_names`) as PASCAL VOC XML."""
    root = ET.Element("annotation")
    ET.SubElement(root, "filename").text = filename
    size = ET.SubElement(root, "size")
    for key, value in (("width", width), ("height", height), ("depth", 3)):
        ET.SubElement(size, key).text = str(value)
    for box, label in zip(boxes.tolist(), labels.tolist()):
        obj = ET.SubElement(root, "object")
        ET.SubElement(obj, "name").text = class_names[label]
        ET.SubElement(obj, "difficult").text = "0"
        bndbox = ET.SubElement(obj, "bndbox")
        for key, value in zip(("xmin", "ymin", "xmax", "ymax"), box):
            ET.SubElement(bndbox, key).text = f"{value:g}"
    ET.indent(root)
    ET.ElementTree(root).write(path, encoding="utf-8", xml_declaration=True)


def _as_arrays(boxes: list[list[float]], labels: list[int]) -> tuple[np.ndarray, np.ndarray]:
    return (
        np.asarray(boxes, dtype=np.float32).reshape(-1, 4),
        np.asarray(labels, dtype=np.int64),
    )
