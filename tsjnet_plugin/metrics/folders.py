"""Evaluate folders of fused images against folders of infrared and visible sources.

Files are matched by stem (``00004N.png`` in ``ir/`` pairs with ``00004N.jpg`` in ``vis/``).
Every image is read as the reference evaluator reads it (``image_read_cv2(path, "GRAY")`` in
MMIF-CDDFuse): colour is reduced with the BT.601 luma ``0.299 R + 0.587 G + 0.114 B`` computed
as OpenCV's ``COLOR_BGR2GRAY`` computes it on float32 data, then rounded (half to even) to whole
gray levels; alpha is dropped.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, UnidentifiedImageError

from ..bt601 import BT601_LUMA
from ..data.readers import IMAGE_EXTENSIONS
from .evaluate import METRIC_NAMES, check_metric_request, evaluate_fusion, mean_scores

__all__ = [
    "evaluate_folders",
    "index_images",
    "read_gray",
    "rgb_luma",
]

_LUMA_R, _LUMA_G, _LUMA_B = (np.float32(weight) for weight in BT601_LUMA)

# {method: {"per_image": {stem: {metric: value}}, "mean": {metric: value}}}
FolderResults = dict[str, dict[str, Any]]


def read_gray(path: str | Path) -> np.ndarray:
    """Read an image file as 8-bit gray levels.

    Args:
        path: an 8-bit grayscale or colour image (any format PIL reads).

    Returns:
        [H, W] float64 array of whole numbers in [0, 255].

    Raises:
        ValueError: the file cannot be read as an image, or its values are not 8-bit.
    """
    path = Path(path)
    try:
        with Image.open(path) as image:
            image.load()
            if image.mode in ("L", "I;16", "I;16B", "I;16L", "I", "F"):
                return _check_8bit(np.asarray(image, dtype=np.float64), path, image.mode)
            rgb = np.asarray(image.convert("RGB"), dtype=np.float32)
    except (UnidentifiedImageError, OSError) as error:
        raise ValueError(f"cannot read image {path}: {error}") from error
    return np.round(rgb_luma(rgb[..., 0], rgb[..., 1], rgb[..., 2])).astype(np.float64)


def _fma32(a: np.ndarray, b: np.float32, c: np.ndarray) -> np.ndarray:
    """float32 fused multiply-add ``a * b + c``: the float64 product of two float32 is exact."""
    return (a.astype(np.float64) * np.float64(b) + c.astype(np.float64)).astype(np.float32)


def rgb_luma(r: np.ndarray, g: np.ndarray, b: np.ndarray) -> np.ndarray:
    """[H, W] float32 BT.601 luma of channels in [0, 255] (not yet rounded), as OpenCV's SIMD
    ``BGR2GRAY`` computes it on float32 pixels.

    The operation order decides the half-way cases (``299 R + 587 G + 114 B`` ending in 500),
    which round to different gray levels: 2559 of the 2^24 colours differ from the plain float64
    formula. Bit-identical to opencv-python 4.8 and 5.0 on all 2^24 colours.
    """
    r, g, b = (np.asarray(c, dtype=np.float32) for c in (r, g, b))
    return _fma32(r, _LUMA_R, _fma32(b, _LUMA_B, g * _LUMA_G))


def _check_8bit(gray: np.ndarray, path: Path, mode: str) -> np.ndarray:
    if gray.min() < 0 or gray.max() > 255:
        raise ValueError(
            f"image {path} (PIL mode {mode}) has values in [{gray.min()}, {gray.max()}]; "
            "expected 8-bit gray levels in [0, 255]"
        )
    return np.round(gray)


def index_images(folder: str | Path) -> dict[str, Path]:
    """Map file stem -> path for the images directly inside ``folder``, sorted by stem.

    Raises:
        ValueError: ``folder`` is not a directory, holds no image file (suffixes
            :data:`IMAGE_EXTENSIONS`), or holds two images with the same stem.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise ValueError(f"not a directory: {folder}")
    index: dict[str, Path] = {}
    for path in sorted(folder.iterdir()):
        if not (path.is_file() and path.suffix.lower() in IMAGE_EXTENSIONS):
            continue
        if path.stem in index:
            raise ValueError(f"two images with stem {path.stem!r}: {index[path.stem]} and {path}")
        index[path.stem] = path
    if not index:
        raise ValueError(f"no image files ({', '.join(IMAGE_EXTENSIONS)}) in folder {folder}")
    return index


def _common_stems(indexes: Sequence[tuple[Path, dict[str, Path]]]) -> list[str]:
    """Stems present in every folder; warn about the stems that some folders lack."""
    stem_sets = [set(index) for _, index in indexes]
    common = set.intersection(*stem_sets)
    if not common:
        raise ValueError(
            "no file stem is present in all folders: "
            + "; ".join(f"{folder} has {sorted(index)[:3]}..." for folder, index in indexes)
        )
    skipped = set.union(*stem_sets) - common
    if skipped:
        warnings.warn(
            f"evaluating the {len(common)} stems present in all folders; skipping "
            f"{len(skipped)} that some folders lack: {sorted(skipped)[:10]}",
            stacklevel=3,
        )
    return sorted(common)


def _read_matching(path: Path, shape: tuple[int, ...], source: Path) -> np.ndarray:
    image = read_gray(path)
    if image.shape != shape:
        raise ValueError(
            f"size mismatch: {path} is {image.shape[1]}x{image.shape[0]} (WxH) but "
            f"{source} is {shape[1]}x{shape[0]}"
        )
    return image


def evaluate_folders(
    ir_dir: str | Path,
    vis_dir: str | Path,
    fused_dirs: Mapping[str, str | Path],
    *,
    metrics: Sequence[str] = METRIC_NAMES,
    options: Mapping[str, Mapping[str, Any]] | None = None,
    progress: Callable[[Iterable[str]], Iterable[str]] | None = None,
) -> FolderResults:
    """Evaluate every fused image of every method against its IR and visible sources.

    Args:
        ir_dir: folder of infrared images.
        vis_dir: folder of visible images (colour is reduced to BT.601 luma).
        fused_dirs: ``{method name: folder of that method's fused images}``, in report order.
        metrics: metric names, see :data:`~tsjnet_plugin.metrics.METRIC_NAMES`.
        options: per-metric keyword options, as ``**options`` of :func:`evaluate_fusion`.
        progress: optional wrapper of the stem iterable, e.g. ``tqdm``.

    Returns:
        ``{method: {"per_image": {stem: {metric: value}}, "mean": {metric: value}}}`` over the
        stems present in all folders, sorted; the mean is `mean_scores` over those images
        (non-finite values left out, as in the framework evaluators).

    Raises:
        ValueError: no method, a folder missing or empty, no common stem, an unreadable image,
            a fused image whose size differs from its sources, or images too small for a
            metric (the message names the fused file).
    """
    if not fused_dirs:
        raise ValueError("fused_dirs is empty: give at least one method folder")
    options = dict(options or {})
    check_metric_request(metrics, options)
    ir_index, vis_index = index_images(ir_dir), index_images(vis_dir)
    method_indexes = {method: index_images(folder) for method, folder in fused_dirs.items()}
    stems = _common_stems(
        [(Path(ir_dir), ir_index), (Path(vis_dir), vis_index)]
        + [(Path(fused_dirs[method]), index) for method, index in method_indexes.items()]
    )

    per_image: dict[str, dict[str, dict[str, float]]] = {method: {} for method in fused_dirs}
    for stem in progress(stems) if progress is not None else stems:
        ir = read_gray(ir_index[stem])
        vis = _read_matching(vis_index[stem], ir.shape, ir_index[stem])
        for method, index in method_indexes.items():
            fused = _read_matching(index[stem], ir.shape, ir_index[stem])
            try:
                scores = evaluate_fusion(fused, ir, vis, metrics, **options)
            except ValueError as error:
                raise ValueError(f"evaluating {index[stem]}: {error}") from error
            per_image[method][stem] = scores
    return {
        method: {
            "per_image": images,
            "mean": mean_scores(list(images.values())),
        }
        for method, images in per_image.items()
    }


def crop_comparison(
    ir_dir: str | Path,
    vis_dir: str | Path,
    fused_dirs: Mapping[str, str | Path],
    crops: Sequence[tuple[str, tuple[int, int, int, int]]],
    scale: int = 2,
) -> list[tuple[str, np.ndarray]]:
    """Titled crops for a side-by-side picture: per crop, IR | visible | per-pixel max | each
    method, as gray ``h x w`` uint8 arrays (``visualize.make_grid`` enlarges them ``scale``
    times with nearest-neighbour sampling, so single pixels, noise and halos stay visible).

    Args:
        crops: ``(stem, (x, y, w, h))`` windows in pixels; the stem names a pair of the folders.

    Raises:
        ValueError: an unknown stem or a window outside the image.
    """
    ir_index, vis_index = index_images(ir_dir), index_images(vis_dir)
    method_indexes = {method: index_images(folder) for method, folder in fused_dirs.items()}
    panels: list[tuple[str, np.ndarray]] = []
    for stem, (x, y, w, h) in crops:
        sources = {"IR": ir_index, "visible": vis_index, **method_indexes}
        missing = [name for name, index in sources.items() if stem not in index]
        if missing:
            raise ValueError(f"crop {stem!r}: no image with that stem for {missing}")
        ir = read_gray(ir_index[stem])
        if w <= 0 or h <= 0 or x < 0 or y < 0 or x + w > ir.shape[1] or y + h > ir.shape[0]:
            raise ValueError(
                f"crop {stem}:{x},{y},{w},{h} leaves the {ir.shape[1]}x{ir.shape[0]} (WxH) image"
            )
        images = {"IR": ir, "visible": _read_matching(vis_index[stem], ir.shape, ir_index[stem])}
        images["per-pixel max"] = np.maximum(images["IR"], images["visible"])
        for method, index in method_indexes.items():
            images[method] = _read_matching(index[stem], ir.shape, ir_index[stem])
        for name, image in images.items():
            crop = image[y : y + h, x : x + w].astype(np.uint8)
            panels.append((f"{stem} {name} ({scale}x)", crop))
    return panels
