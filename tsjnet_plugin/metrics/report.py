"""Reports of :func:`~tsjnet_plugin.metrics.evaluate_folders` results: table, JSON, CSV, chart.

``results`` below is ``{method: {"per_image": {stem: {metric: value}}, "mean": {metric:
value}}}``. Non-finite values (PSNR of identical images, CC of a constant image) are written
as ``null`` in JSON and as ``nan``/``inf`` in CSV and in the table.
"""

from __future__ import annotations

import csv
import json
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

__all__ = ["format_table", "plot_means", "write_csv", "write_json"]

Results = Mapping[str, Mapping[str, Any]]


def _metric_names(results: Results) -> list[str]:
    first = next(iter(results.values()))
    return list(first["mean"])


def format_table(results: Results, digits: int = 4) -> str:
    """Plain-text table of the mean of every metric (columns) for every method (rows)."""
    names = _metric_names(results)
    rows = [["method", *names]] + [
        [method, *(f"{result['mean'][name]:.{digits}f}" for name in names)]
        for method, result in results.items()
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return "\n".join(
        row[0].ljust(widths[0]) + "".join(f"  {cell:>{w}}" for cell, w in zip(row[1:], widths[1:]))
        for row in rows
    )


def _finite_or_none(value: float) -> float | None:
    return value if math.isfinite(value) else None


def write_json(results: Results, path: str | Path) -> Path:
    """Write ``results`` as JSON (non-finite values as ``null``); return the path."""
    path = Path(path)
    clean = {
        method: {
            "per_image": {
                stem: {name: _finite_or_none(v) for name, v in scores.items()}
                for stem, scores in result["per_image"].items()
            },
            "mean": {name: _finite_or_none(v) for name, v in result["mean"].items()},
        }
        for method, result in results.items()
    }
    path.write_text(json.dumps(clean, indent=2, allow_nan=False) + "\n")
    return path


def write_csv(results: Results, path: str | Path) -> Path:
    """Write one row per (method, image) and one ``mean`` row per method; return the path.

    Columns: ``method, image, <metric names>``.
    """
    path = Path(path)
    names = _metric_names(results)
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["method", "image", *names])
        for method, result in results.items():
            for stem, scores in result["per_image"].items():
                writer.writerow([method, stem, *(repr(scores[name]) for name in names)])
            writer.writerow([method, "mean", *(repr(result["mean"][name]) for name in names)])
    return path


def plot_means(results: Results, path: str | Path) -> Path:
    """Save a bar chart of the mean metrics, one subplot per metric, one bar per method.

    Uses matplotlib's Agg canvas directly (no pyplot, no global backend change).
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    path = Path(path)
    names = _metric_names(results)
    methods = list(results)
    columns = min(4, len(names))
    rows = math.ceil(len(names) / columns)
    figure = Figure(figsize=(3.2 * columns, 2.6 * rows + 0.4), layout="constrained")
    FigureCanvasAgg(figure)
    colors = [f"C{i % 10}" for i in range(len(methods))]
    axes = figure.subplots(rows, columns, squeeze=False).ravel()
    for ax, name in zip(axes, names):
        values = [results[method]["mean"][name] for method in methods]
        ax.bar(range(len(methods)), [v if math.isfinite(v) else 0.0 for v in values], color=colors)
        ax.set_title(name)
        ax.set_xticks(range(len(methods)), methods, rotation=30, ha="right", fontsize=8)
        ax.tick_params(axis="y", labelsize=8)
    for ax in axes[len(names) :]:
        ax.set_visible(False)
    figure.savefig(path, dpi=100)
    return path
