"""An embedded synthetic IR/visible dataset, deterministic from a seed: the default data for
demos and tests.

Each scene is a night street in miniature, designed so that neither modality alone shows
everything:
    - background: a smooth temperature field in IR; fine texture (grain and stripes) in the
      dim visible image, plus coloured textured patches (signs, posters) seen only in visible;
    - warm objects ("person", "car"): bright in IR, dark and nearly background-coloured
      (low contrast, no texture) in visible;
    - cold objects ("bike"): at background temperature in IR (invisible), brightly coloured and
      textured in visible.
So a fused image that keeps the IR targets and the visible texture beats either source alone.
Every scene holds at least one warm and one cold object; objects do not overlap.

`lighting="day_night"` (the default) makes modality matter more, as in MSRS/M3FD: each scene is
drawn at night or in daylight with equal chance.
    - night: the visible image is dimmer and the warm objects are not drawn in it at all (they
      keep the background's texture): people and cars are seen only in IR; bikes only in
      visible;
    - day: a bright visible image in which every object is drawn (warm objects dark, coloured
      and textured); in IR the cars and bikes sit at ground temperature (thermal crossover),
      only people stay warm, with less contrast than at night.
`lighting="night"` draws every scene as the night street above with the warm objects as faint
flat patches in visible (the generator of format version 1, byte for byte).

Shape shorthand: H, W image size; N number of objects.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from ..bt601 import BT601_LUMA
from .labels import write_voc_xml
from .records import DatasetError

__all__ = [
    "LIGHTINGS",
    "SYNTHETIC_STUFF_CLASSES",
    "SYNTHETIC_THING_CLASSES",
    "SyntheticScene",
    "generate_scene",
    "write_synthetic_msrs",
]

SYNTHETIC_THING_CLASSES = ("person", "car", "bike")
# Segmentation value = index here = thing index + 1.
SYNTHETIC_STUFF_CLASSES = ("background", "person", "car", "bike")
_WARM = ("person", "car")
_COLD = ("bike",)
_PLACEMENT_TRIES = 50
LIGHTINGS = ("day_night", "night")
_CONFIG_FILE = "synthetic.json"
_FORMAT_VERSION = 1
_BT601 = np.array(BT601_LUMA)

Mask = np.ndarray  # [H, W] bool


@dataclass(frozen=True, eq=False)
class SyntheticScene:
    """One synthetic pair with its labels.

    Attributes:
        ir: [H, W] float32 in [0, 1], on 8-bit levels (k / 255), so an 8-bit PNG is lossless.
        vis: [H, W, 3] uint8 RGB.
        seg: [H, W] uint8; 0 background, else thing index + 1 (`SYNTHETIC_STUFF_CLASSES`).
        boxes: [N, 4] float32 absolute pixel xyxy, the tight box of each object's mask
            (pixel i covers [i, i + 1)).
        labels: [N] int64 indices into `SYNTHETIC_THING_CLASSES`.
        daylight: True for a daylight scene (only with `lighting="day_night"`).
    """

    ir: np.ndarray
    vis: np.ndarray
    seg: np.ndarray
    boxes: np.ndarray
    labels: np.ndarray
    daylight: bool = False


def generate_scene(
    rng_or_seed: np.random.Generator | int,
    height: int = 128,
    width: int = 160,
    *,
    num_objects: int = 4,
    lighting: str = "day_night",
) -> SyntheticScene:
    """Draw one scene.

    Args:
        rng_or_seed: a numpy Generator (advanced in place) or a seed for
            `numpy.random.default_rng`.
        height: H, at least 32.
        width: W, at least 32.
        num_objects: objects to place, at least 2 (one warm, one cold first); an object that
            finds no free spot after a few tries is left out.
        lighting: "day_night" (each scene at night or in daylight, see the module docstring)
            or "night" (every scene at night, warm objects faintly visible in visible).
    """
    _check_size(height, width)
    _check_lighting(lighting)
    if num_objects < 2:
        raise ValueError(f"num_objects must be >= 2 (one warm, one cold), got {num_objects}")
    if isinstance(rng_or_seed, np.random.Generator):
        rng = rng_or_seed
    else:
        rng = np.random.default_rng(rng_or_seed)
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32) + 0.5
    hard = lighting == "day_night"
    daylight = hard and bool(rng.random() < 0.5)

    ir = _ir_background(rng, ys, height, width)
    lum, tint = _visible_background(rng, xs, ys, height, width)
    if hard:
        lum = lum + 0.25 if daylight else 0.55 * lum
    vis = lum[..., None] * tint
    _add_patches(rng, vis, xs, ys)
    background_lum = float(lum.mean())

    seg = np.zeros((height, width), np.uint8)
    boxes, labels = [], []
    classes = [str(rng.choice(_WARM)), str(rng.choice(_COLD))]
    classes += [str(rng.choice(SYNTHETIC_THING_CLASSES)) for _ in range(num_objects - 2)]
    for name in classes:
        mask = _place(rng, name, xs, ys, seg > 0)
        if mask is None:
            continue
        label = SYNTHETIC_THING_CLASSES.index(name)
        seg[mask] = label + 1
        rows, cols = np.nonzero(mask)
        boxes.append([cols.min(), rows.min(), cols.max() + 1, rows.max() + 1])
        labels.append(label)
        if daylight:
            _paint_daylight(rng, name, mask, ir, vis, xs, ys)
        elif name in _WARM:  # day_night: heat in IR only, the visible painting is discarded
            _paint_warm(rng, name, mask, ir, vis.copy() if hard else vis, ys, background_lum)
        else:
            _paint_cold(rng, mask, vis, xs, ys)

    ir = ir + rng.normal(0.0, 0.004, ir.shape)
    vis = vis + rng.normal(0.0, 0.012, vis.shape)
    return SyntheticScene(
        ir=(np.round(np.clip(ir, 0, 1) * 255) / 255).astype(np.float32),
        vis=np.round(np.clip(vis, 0, 1) * 255).astype(np.uint8),
        seg=seg,
        boxes=np.asarray(boxes, np.float32).reshape(-1, 4),
        labels=np.asarray(labels, np.int64),
        daylight=daylight,
    )


def write_synthetic_msrs(
    root: str | os.PathLike[str],
    num_train: int = 16,
    num_test: int = 4,
    height: int = 128,
    width: int = 160,
    seed: int = 0,
    lighting: str = "day_night",
) -> Path:
    """Write synthetic scenes in the MSRS layout that `read_msrs` reads.

    Writes `root/{train,test}/{ir,vi,Segmentation_labels}/<id>.png` (IR 8-bit grey, visible
    RGB, labels 8-bit index), `root/{train,test}/Annotations/<id>.xml` (VOC),
    `root/classes.json` ({name: id}, ids from 1), `root/seg_classes.txt` and
    `root/synthetic.json` (the parameters, `lighting` included: see `generate_scene`). Sample
    ids are `00000`, `00001`, ... per split. The scenes are successive `generate_scene` draws
    from one `numpy.random.default_rng(seed)`: the training scenes first, then the test scenes.

    Idempotent: when `root/synthetic.json` (the marker of a folder this function wrote) already
    records the same parameters the folder is reused as it is, and nothing is written. A folder
    written with other parameters is replaced, unless it also holds files this function does not
    write (`preview.png` of tools/make_synthetic.py aside); any other non-empty folder is
    refused: nothing a user made is deleted. The dataset is built in a temporary sibling folder
    (`.<name>-*`, only when writing) and moved into place, so an interrupted call leaves no
    half-written dataset.

    Returns:
        `root` as a Path.
    """
    _check_size(height, width)
    _check_lighting(lighting)
    if num_train < 0 or num_test < 0:
        raise ValueError(f"sample counts must be >= 0, got {num_train=}, {num_test=}")
    root = Path(root)
    config = {
        "format_version": _FORMAT_VERSION,
        "num_train": num_train,
        "num_test": num_test,
        "height": height,
        "width": width,
        "seed": seed,
        "lighting": lighting,
    }
    stored = _stored_config(root)
    if stored == config:
        return root
    if root.exists() and (not root.is_dir() or (stored is None and any(root.iterdir()))):
        raise DatasetError(
            f"{root}: not an empty folder and holds no {_CONFIG_FILE}; refusing to write a "
            "synthetic dataset there: choose another folder, or empty or remove this one"
        )
    foreign = _foreign_files(root) if stored is not None else []
    if foreign:
        raise DatasetError(
            f"{root}: a synthetic set with other parameters that also holds files it did not "
            f"write ({', '.join(str(p.relative_to(root)) for p in foreign[:3])}"
            f"{', ...' if len(foreign) > 3 else ''}); refusing to replace it: move those files "
            "away or choose another folder"
        )
    root.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{root.name}-", dir=root.parent))
    try:
        _write_dataset(staging, config)
        if root.exists():
            shutil.rmtree(root)
        staging.rename(root)
    finally:
        if staging.exists():
            shutil.rmtree(staging)
    return root


def _write_dataset(root: Path, config: dict[str, int | str]) -> None:
    rng = np.random.default_rng(config["seed"])
    for split in ("train", "test"):
        folders = {
            sub: root / split / sub for sub in ("ir", "vi", "Segmentation_labels", "Annotations")
        }
        for folder in folders.values():
            folder.mkdir(parents=True)
        for index in range(config[f"num_{split}"]):
            scene = generate_scene(
                rng, config["height"], config["width"], lighting=config["lighting"]
            )
            stem = f"{index:05d}"
            ir8 = np.round(scene.ir * 255).astype(np.uint8)
            Image.fromarray(ir8).save(folders["ir"] / f"{stem}.png")
            Image.fromarray(scene.vis).save(folders["vi"] / f"{stem}.png")
            Image.fromarray(scene.seg).save(folders["Segmentation_labels"] / f"{stem}.png")
            write_voc_xml(
                folders["Annotations"] / f"{stem}.xml",
                f"{stem}.png",
                config["height"],
                config["width"],
                scene.boxes,
                scene.labels,
                SYNTHETIC_THING_CLASSES,
            )
    class_ids = {name: i + 1 for i, name in enumerate(SYNTHETIC_THING_CLASSES)}
    (root / "classes.json").write_text(json.dumps(class_ids, indent=2) + "\n")
    (root / "seg_classes.txt").write_text("\n".join(SYNTHETIC_STUFF_CLASSES) + "\n")
    (root / _CONFIG_FILE).write_text(json.dumps(config, indent=2) + "\n")


def _check_size(height: int, width: int) -> None:
    if height < 32 or width < 32:
        raise ValueError(f"scene size must be at least 32x32, got {height=}, {width=}")


def _check_lighting(lighting: str) -> None:
    if lighting not in LIGHTINGS:
        raise ValueError(f"lighting must be one of {LIGHTINGS}, got {lighting!r}")


_OWN_TOP_FILES = frozenset({_CONFIG_FILE, "classes.json", "seg_classes.txt", "preview.png"})
_OWN_SAMPLE = re.compile(
    r"(train|test)/((ir|vi|Segmentation_labels)/\d{5}\.png|Annotations/\d{5}\.xml)"
)
_OWN_FOLDER = re.compile(r"(train|test)(/(ir|vi|Segmentation_labels|Annotations))?")


def _foreign_files(root: Path) -> list[Path]:
    """Everything under `root` that `_write_dataset` (or the preview) does not write, sorted."""
    foreign = []
    for path in sorted(root.rglob("*")):
        relative = path.relative_to(root).as_posix()
        own = (
            _OWN_FOLDER.fullmatch(relative)
            if path.is_dir()
            else (relative in _OWN_TOP_FILES or _OWN_SAMPLE.fullmatch(relative))
        )
        if not own:
            foreign.append(path)
    return foreign


def _stored_config(root: Path) -> dict[str, int | str] | None:
    try:
        return json.loads((root / _CONFIG_FILE).read_text())
    except (OSError, json.JSONDecodeError):
        return None


# ----------------------------------------------------------------------------- background


def _value_noise(rng: np.random.Generator, height: int, width: int, cell: float) -> np.ndarray:
    """Smooth random field: a random grid every `cell` pixels, bilinearly interpolated.

    Returns:
        [H, W] float in [0, 1].
    """
    grid = rng.random((int(height / cell) + 2, int(width / cell) + 2))
    y = (np.arange(height) + 0.5) / cell
    x = (np.arange(width) + 0.5) / cell
    y0, x0 = y.astype(int), x.astype(int)
    fy, fx = (y - y0)[:, None], (x - x0)[None, :]
    rows = grid[y0] * (1 - fy) + grid[y0 + 1] * fy
    return rows[:, x0] * (1 - fx) + rows[:, x0 + 1] * fx


def _ir_background(rng: np.random.Generator, ys: np.ndarray, height: int, width: int) -> np.ndarray:
    """Cool, smooth temperature field: [H, W] float around 0.05-0.25, no fine texture."""
    base = rng.uniform(0.1, 0.18)
    slope = rng.uniform(-0.06, 0.06) * (ys / height - 0.5)
    blobs = 0.08 * (_value_noise(rng, height, width, height / 3) - 0.5)
    return base + slope + blobs


def _visible_background(
    rng: np.random.Generator, xs: np.ndarray, ys: np.ndarray, height: int, width: int
) -> tuple[np.ndarray, np.ndarray]:
    """Dim, finely textured ground: luminance [H, W] float and an RGB tint [3]."""
    base = rng.uniform(0.32, 0.42)
    grain = 0.22 * (_value_noise(rng, height, width, rng.uniform(2.0, 3.5)) - 0.5)
    angle = rng.uniform(0, np.pi)
    period = rng.uniform(5.0, 9.0)
    stripes = 0.07 * np.sin(2 * np.pi * (xs * np.cos(angle) + ys * np.sin(angle)) / period)
    tint = rng.uniform(0.8, 1.2, 3)
    return base + grain + stripes, tint / tint.mean()


def _add_patches(rng: np.random.Generator, vis: np.ndarray, xs: np.ndarray, ys: np.ndarray) -> None:
    """Paint 1-2 coloured checkered rectangles (background class) into `vis` [H, W, 3]."""
    height, width = xs.shape
    for _ in range(rng.integers(1, 3)):
        h, w = rng.uniform(0.12, 0.22) * height, rng.uniform(0.12, 0.22) * width
        top, left = rng.uniform(0, height - h), rng.uniform(0, width - w)
        inside = (ys >= top) & (ys < top + h) & (xs >= left) & (xs < left + w)
        check = ((xs - left) // 4 + (ys - top) // 4) % 2
        colour = _bright_colour(rng)
        vis[inside] = (colour * (0.55 + 0.3 * check[..., None]))[inside]


def _bright_colour(rng: np.random.Generator) -> np.ndarray:
    """A saturated RGB colour [3] in [0, 1] (one or two strong channels), BT.601 luma >= 0.45."""
    while True:
        colour = rng.uniform(0.05, 0.4, 3)
        colour[rng.choice(3, size=rng.integers(1, 3), replace=False)] = rng.uniform(0.85, 1.0)
        if colour @ _BT601 >= 0.45:
            return colour


# ----------------------------------------------------------------------------- objects


def _object_size(
    rng: np.random.Generator, name: str, height: int, width: int
) -> tuple[float, float]:
    """Random (h, w) in pixels of a `name` object in an H x W scene."""
    if name == "person":
        h = rng.uniform(0.28, 0.42) * height
        return h, h * rng.uniform(0.32, 0.42)
    if name == "car":
        w = rng.uniform(0.22, 0.32) * width
        return w * rng.uniform(0.45, 0.6), w
    w = rng.uniform(0.18, 0.26) * width
    return 0.6 * w, w


def _person(xs: np.ndarray, ys: np.ndarray, top: float, left: float, h: float, w: float) -> Mask:
    """An elliptic body under a round head."""
    cx = left + w / 2
    body = ((xs - cx) / (w / 2)) ** 2 + ((ys - top - 0.6 * h) / (0.4 * h)) ** 2 <= 1
    head = (xs - cx) ** 2 + (ys - top - 0.12 * h) ** 2 <= (0.12 * h) ** 2
    return body | head


def _car(xs: np.ndarray, ys: np.ndarray, top: float, left: float, h: float, w: float) -> Mask:
    """A body rectangle under a narrower cabin."""
    body = (xs >= left) & (xs < left + w) & (ys >= top + 0.4 * h) & (ys < top + h)
    cabin = (xs >= left + 0.2 * w) & (xs < left + 0.8 * w) & (ys >= top) & (ys < top + 0.4 * h)
    return body | cabin


def _bike(xs: np.ndarray, ys: np.ndarray, top: float, left: float, h: float, w: float) -> Mask:
    """Two wheel rings and a thin frame: a thin, high-frequency shape."""
    r = 0.24 * w
    thickness = max(1.5, 0.2 * r)
    back, front = (left + r, top + h - r), (left + w - r, top + h - r)
    seat, bar = (left + 0.42 * w, top + 0.25 * h), (left + 0.72 * w, top + 0.1 * h)
    mask = np.zeros(xs.shape, bool)
    for cx, cy in (back, front):
        mask |= np.abs(np.hypot(xs - cx, ys - cy) - (r - thickness / 2)) <= thickness / 2
    for start, end in ((back, seat), (seat, front), (seat, bar), (bar, front), (back, bar)):
        mask |= _segment(xs, ys, start, end, thickness)
    return mask


def _segment(
    xs: np.ndarray,
    ys: np.ndarray,
    start: tuple[float, float],
    end: tuple[float, float],
    thickness: float,
) -> Mask:
    """Pixels within thickness / 2 of the segment start-end."""
    dx, dy = end[0] - start[0], end[1] - start[1]
    t = np.clip(((xs - start[0]) * dx + (ys - start[1]) * dy) / (dx * dx + dy * dy), 0, 1)
    return np.hypot(xs - start[0] - t * dx, ys - start[1] - t * dy) <= thickness / 2


_SHAPES: dict[str, Callable[..., Mask]] = {"person": _person, "car": _car, "bike": _bike}


def _place(
    rng: np.random.Generator, name: str, xs: np.ndarray, ys: np.ndarray, occupied: Mask
) -> Mask | None:
    """Mask of a `name` object at a random spot whose box (plus a 2-pixel margin) is free of
    `occupied`, or None after a few failed tries."""
    height, width = xs.shape
    for _ in range(_PLACEMENT_TRIES):
        h, w = _object_size(rng, name, height, width)
        top, left = rng.uniform(0, height - h), rng.uniform(0, width - w)
        mask = _SHAPES[name](xs, ys, top, left, h, w)
        rows, cols = np.nonzero(mask)
        if rows.size == 0:
            continue
        r0, r1 = max(rows.min() - 2, 0), rows.max() + 3
        c0, c1 = max(cols.min() - 2, 0), cols.max() + 3
        if not occupied[r0:r1, c0:c1].any():
            return mask
    return None


def _paint_warm(
    rng: np.random.Generator,
    name: str,
    mask: Mask,
    ir: np.ndarray,
    vis: np.ndarray,
    ys: np.ndarray,
    background_lum: float,
) -> None:
    """Hot in IR (people hottest, car wheels and engine hot); dark, flat and close to the
    background's mean luminance in visible."""
    rows = np.nonzero(mask)[0]
    top, bottom = rows.min(), rows.max() + 1
    depth = (ys - top) / max(bottom - top, 1)
    if name == "person":
        heat = rng.uniform(0.82, 0.95) - 0.08 * depth
    else:
        heat = rng.uniform(0.55, 0.68) + 0.2 * (depth > 0.75)
    ir[mask] = heat[mask]
    grey = rng.uniform(0.85, 1.0) * background_lum
    vis[mask] = grey * rng.uniform(0.9, 1.1, 3)


def _paint_cold(
    rng: np.random.Generator, mask: Mask, vis: np.ndarray, xs: np.ndarray, ys: np.ndarray
) -> None:
    """Bright, coloured and dashed in visible; left at background temperature in IR."""
    dashes = 0.8 + 0.2 * np.sin((xs + ys) * rng.uniform(1.2, 2.0))
    vis[mask] = (_bright_colour(rng) * dashes[..., None])[mask]


def _paint_daylight(
    rng: np.random.Generator,
    name: str,
    mask: Mask,
    ir: np.ndarray,
    vis: np.ndarray,
    xs: np.ndarray,
    ys: np.ndarray,
) -> None:
    """Daylight: dark, coloured and textured in visible; in IR only people are warmer than the
    ground (by 0.15-0.25), cars and bikes are at ground temperature."""
    stripes = 0.85 + 0.15 * np.sin((xs - ys) * rng.uniform(0.8, 1.6))
    vis[mask] = (0.35 * _bright_colour(rng) * stripes[..., None])[mask]
    if name == "person":
        ir[mask] += rng.uniform(0.15, 0.25)
