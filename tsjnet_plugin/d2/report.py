"""Report pictures of a trained joint model: one grid per sample and a results table."""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from tsjnet_plugin.data import PairRecord, read_ir, read_visible
from tsjnet_plugin.inference import write_png_atomic
from tsjnet_plugin.visualize import draw_detections, make_grid, overlay_segmentation, to_rgb

from .predictor import TSJPredictor

__all__ = ["results_table", "sample_grid", "write_sample_report"]


def sample_grid(
    predictor: TSJPredictor,
    record: PairRecord,
    thing_classes: Sequence[str],
    stuff_classes: Sequence[str],
    min_score: float = 0.5,
):
    """Run ``predictor`` on one pair and return ``(grid image, prediction)``.

    Panels: infrared, visible, fused (colour), detections on the fused image, segmentation
    overlay on the fused image.
    """
    ir, vis = read_ir(record.ir_path), read_visible(record.vis_path)
    prediction = predictor(ir, vis)
    fused = prediction["fused"]
    panels = [("infrared", to_rgb(ir)), ("visible", vis), ("fused", fused)]
    if "instances" in prediction:
        instances = prediction["instances"]
        panels.append(
            (
                "detections (fused)",
                draw_detections(
                    fused,
                    instances.pred_boxes.tensor.numpy(),
                    instances.pred_classes.tolist(),
                    instances.scores.tolist(),
                    thing_classes,
                    min_score,
                ),
            )
        )
    if "sem_seg" in prediction:
        labels = prediction["sem_seg"].numpy()
        panels.append(
            ("segmentation (fused)", overlay_segmentation(fused, labels, len(stuff_classes)))
        )
    return make_grid(panels), prediction


def write_sample_report(
    predictor: TSJPredictor,
    records: Sequence[PairRecord],
    out_dir: str | os.PathLike,
    thing_classes: Sequence[str],
    stuff_classes: Sequence[str],
) -> list[Path]:
    """One grid PNG per record in ``out_dir/grids``; fused images in ``out_dir/fused/{gray,color}``."""
    out_dir = Path(out_dir)
    written = []
    for record in records:
        grid, prediction = sample_grid(predictor, record, thing_classes, stuff_classes)
        path = out_dir / "grids" / f"{record.sample_id}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        grid.save(path)
        write_png_atomic(
            prediction["fused_gray"], out_dir / "fused" / "gray" / f"{record.sample_id}.png"
        )
        write_png_atomic(
            prediction["fused"], out_dir / "fused" / "color" / f"{record.sample_id}.png"
        )
        written.append(path)
    return written


def results_table(results: Mapping[str, Mapping[str, float]]) -> str:
    """A Markdown table of detectron2-style ``{task: {metric: value}}`` results."""
    lines = ["| task | metric | value |", "|---|---|---|"]
    for task, metrics in results.items():
        for name, value in metrics.items():
            if (
                isinstance(value, int | float | np.floating) and "-" not in name
            ):  # no per-class rows
                shown = "nan" if math.isnan(float(value)) else f"{float(value):.4g}"
                lines.append(f"| {task} | {name} | {shown} |")
    return "\n".join(lines)
