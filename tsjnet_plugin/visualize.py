"""Pictures of results: detections, segmentation overlays, sample grids and loss curves.

Framework-free (numpy, PIL, matplotlib). Images are ``HxWx3`` uint8 RGB unless stated.
"""

from __future__ import annotations

import json
import os
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from .loss_names import loss_group

__all__ = [
    "draw_detections",
    "make_grid",
    "overlay_segmentation",
    "palette",
    "plot_loss_curves",
    "read_metrics_json",
    "to_rgb",
]


def palette(num_colors: int, seed: int = 3) -> np.ndarray:
    """``[num_colors, 3]`` uint8 distinct colours; index 0 is black (background)."""
    rng = np.random.default_rng(seed)
    colors = rng.integers(64, 256, size=(num_colors, 3), dtype=np.uint8)
    colors[0] = 0
    return colors


def to_rgb(image: np.ndarray) -> np.ndarray:
    """Gray ``HxW`` or ``HxWx3`` (uint8, or float in [0, 1]) -> ``HxWx3`` uint8."""
    if image.dtype != np.uint8:
        image = (np.clip(image, 0.0, 1.0) * 255.0).round().astype(np.uint8)
    return np.repeat(image[..., None], 3, axis=2) if image.ndim == 2 else image


def draw_detections(
    image: np.ndarray,
    boxes: np.ndarray,
    labels: Sequence[int],
    scores: Sequence[float] | None = None,
    class_names: Sequence[str] = (),
    min_score: float = 0.3,
) -> np.ndarray:
    """Boxes ``[N, 4]`` (absolute xyxy) with ``class score`` captions drawn on a copy of ``image``."""
    canvas = Image.fromarray(to_rgb(image))
    draw = ImageDraw.Draw(canvas)
    font = ImageFont.load_default()
    colors = palette(max(len(class_names), max(labels, default=0) + 1) + 1)
    for i, (box, label) in enumerate(zip(np.asarray(boxes).reshape(-1, 4), labels)):
        score = None if scores is None else float(scores[i])
        if score is not None and score < min_score:
            continue
        color = tuple(int(c) for c in colors[int(label) + 1])
        draw.rectangle([float(v) for v in box], outline=color, width=2)
        name = class_names[label] if label < len(class_names) else str(label)
        caption = name if score is None else f"{name} {score:.2f}"
        draw.text((float(box[0]) + 2, float(box[1]) + 1), caption, fill=color, font=font)
    return np.asarray(canvas)


def overlay_segmentation(
    image: np.ndarray, labels: np.ndarray, num_classes: int, alpha: float = 0.5, ignore: int = 255
) -> np.ndarray:
    """Blend class colours (background, label 0, stays unchanged) over ``image``.

    Args:
        labels: ``HxW`` integer class map; ``ignore`` pixels are left unchanged.
    """
    rgb = to_rgb(image).astype(np.float32)
    colors = palette(num_classes).astype(np.float32)
    mask = (labels > 0) & (labels != ignore) & (labels < num_classes)
    rgb[mask] = (1 - alpha) * rgb[mask] + alpha * colors[labels[mask]]
    return rgb.round().astype(np.uint8)


def make_grid(
    panels: Sequence[tuple[str, np.ndarray]], columns: int | None = None, min_width: int = 256
) -> Image.Image:
    """Titled panels side by side (rows of ``columns``), resized to the first panel's size,
    enlarged by an integer factor so that each is at least ``min_width`` pixels wide."""
    columns = columns or len(panels)
    height, width = to_rgb(panels[0][1]).shape[:2]
    factor = max(1, -(-min_width // width))
    height, width = height * factor, width * factor
    title_h = 14
    rows = (len(panels) + columns - 1) // columns
    grid = Image.new("RGB", (columns * width, rows * (height + title_h)), "white")
    draw = ImageDraw.Draw(grid)
    font = ImageFont.load_default()
    for index, (title, image) in enumerate(panels):
        x, y = (index % columns) * width, (index // columns) * (height + title_h)
        tile = Image.fromarray(to_rgb(image))
        if tile.size != (width, height):
            tile = tile.resize((width, height), Image.NEAREST if factor > 1 else Image.BILINEAR)
        grid.paste(tile, (x, y + title_h))
        draw.text((x + 2, y + 1), title, fill="black", font=font)
    return grid


def read_metrics_json(path: str | os.PathLike) -> dict[str, list[tuple[int, float]]]:
    """Scalar histories from a detectron2 ``metrics.json`` (one JSON object per line)."""
    series: dict[str, list[tuple[int, float]]] = defaultdict(list)
    for line in Path(path).read_text().splitlines():
        if not line.strip():
            continue
        record = json.loads(line)
        iteration = record.get("iteration")
        if iteration is None:
            continue
        for key, value in record.items():
            if isinstance(value, int | float) and key != "iteration":
                series[key].append((int(iteration), float(value)))
    return dict(series)


def plot_loss_curves(metrics_json: str | os.PathLike, out_png: str | os.PathLike) -> Path:
    """Plot every ``loss*`` series of a detectron2 ``metrics.json`` into one PNG (Agg backend),
    one panel per group of :func:`tsjnet_plugin.loss_names.loss_group` (fusion, detection,
    segmentation, total)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    series = {
        k: v
        for k, v in read_metrics_json(metrics_json).items()
        if k.startswith(("loss", "total_loss"))
    }
    if not series:
        raise ValueError(f"{metrics_json}: no loss values to plot")
    groups: dict[str, list[str]] = defaultdict(list)
    for key in series:
        groups[loss_group(key)].append(key)
    figure = Figure(figsize=(4.5 * len(groups), 3.6))
    FigureCanvasAgg(figure)
    for index, (name, keys) in enumerate(groups.items(), start=1):
        axes = figure.add_subplot(1, len(groups), index)
        for key in sorted(keys):
            steps, values = zip(*series[key])
            axes.plot(steps, values, label=key)
        axes.set_title(f"{name} losses")
        axes.set_xlabel("iteration")
        axes.legend(fontsize=7)
    figure.tight_layout()
    out = Path(out_png)
    out.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(out, dpi=110)
    return out
