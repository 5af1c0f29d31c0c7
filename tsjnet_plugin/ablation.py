"""The fusion ablation's variants and its report (framework-free: numpy, PIL, matplotlib).

Which task losses reach the fusion trunk, and does it pay? Each *variant* names the images the
task networks see and, for the fused ones, the task losses that trained the fusion network:

* ``fusion-only``: the fusion network trained with the fusion loss alone;
* ``+det`` / ``+seg``: fusion loss plus the detection / segmentation loss;
* ``+both-alternate`` / ``+both-sum`` / ``+both-ratio``: both task losses, scheduled as
  :mod:`tsjnet_plugin.schedule` says;
* ``visible-only`` / ``infrared-only``: no fusion, the task networks see one modality.

The training itself lives in the detectron2 adapter (:mod:`tsjnet_plugin.d2.ablation`); this
module holds the variant table, the settings (:data:`FULL`, :data:`QUICK`), the aggregation of
per-run results (mean and sample standard deviation over seeds) and the report: Markdown table,
plot, grids and the generated section of ``docs/results.md``.

A *run result* is a flat dict: ``variant``, ``init`` ("pretrained", "random" or "none"),
``seed`` and the metric values (``AP50``, ``AP`` in percent, ``mIoU`` in percent, and the fusion
metrics of :data:`FUSION_METRICS`).
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import shutil
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .markdown_blocks import replace_block

__all__ = [
    "FULL",
    "FUSION_METRICS",
    "INITS",
    "QUICK",
    "TASK_METRICS",
    "VARIANTS",
    "AblationSettings",
    "Variant",
    "aggregate",
    "findings",
    "format_table",
    "grid_name",
    "load_results",
    "plot_summary",
    "run_id",
    "save_result",
    "stored_result",
    "write_report",
]

# Task metrics of the fresh detector and segmentor (COCO AP in percent, mIoU in percent).
TASK_METRICS = ("AP50", "AP", "mIoU")
# Fusion metrics of the task networks' input luminance against the two sources (docs/metrics.md).
FUSION_METRICS = ("EN", "SF", "MI", "VIF", "Qabf", "SSIM")
INITS = ("pretrained", "random")
_HEADERS = {"AP50": "mAP@0.5", "AP": "mAP", "mIoU": "mIoU"}


@dataclass(frozen=True)
class Variant:
    """One row of the ablation.

    Attributes:
        name: the variant's name in tables and file names.
        source: what the task networks see: "fused", "visible" or "infrared".
        tasks: task losses that reach the fusion trunk while it trains ("det", "seg"); empty
            for fusion-only and for the no-fusion baselines.
        schedule: the task schedule of the fusion training ("sum", "alternate", "ratio"), when
            ``tasks`` has both.
    """

    name: str
    source: str
    tasks: tuple[str, ...] = ()
    schedule: str = "sum"

    @property
    def fused(self) -> bool:
        """Whether a fusion network is trained (and so an initialisation chosen)."""
        return self.source == "fused"


VARIANTS: dict[str, Variant] = {
    v.name: v
    for v in (
        Variant("fusion-only", "fused"),
        Variant("+det", "fused", ("det",)),
        Variant("+seg", "fused", ("seg",)),
        Variant("+both-alternate", "fused", ("det", "seg"), "alternate"),
        Variant("+both-sum", "fused", ("det", "seg"), "sum"),
        Variant("+both-ratio", "fused", ("det", "seg"), "ratio"),
        Variant("visible-only", "visible"),
        Variant("infrared-only", "infrared"),
    )
}


@dataclass(frozen=True)
class AblationSettings:
    """Sizes and budgets of one ablation (the fields before ``seeds`` define a run's result).

    Attributes:
        height, width: synthetic image size.
        num_train, num_test: synthetic pairs per split (data seed 0, day/night scenes).
        fusion_iters: iterations of the fusion stage.
        heads_iters: iterations of the task stage.
        batch_size: pairs per iteration in both stages.
        lr: AdamW base learning rate (fusion x0.1 from pretrained weights, x1 from random
            init; segmentor x5 as in the demo config).
        seeds: seeds of the repeated runs.
        inits: fusion initialisations, "pretrained" and/or "random".
        variants: names from :data:`tsjnet_plugin.ablation.VARIANTS`.
    """

    height: int = 64
    width: int = 80
    num_train: int = 32
    num_test: int = 24
    fusion_iters: int = 150
    heads_iters: int = 200
    batch_size: int = 2
    lr: float = 1e-3
    seeds: tuple[int, ...] = (0, 1, 2)
    inits: tuple[str, ...] = ("pretrained", "random")
    variants: tuple[str, ...] = tuple(VARIANTS)

    def run_settings(self) -> dict[str, Any]:
        """The fields that determine one run's result."""
        fields = dataclasses.asdict(self)
        return {k: fields[k] for k in list(fields)[: list(fields).index("seeds")]}

    def runs(self) -> list[tuple[str, str, int]]:
        """(variant, init, seed) of every run, seed by seed (so a partial ablation covers every
        variant); init is "none" for the no-fusion baselines."""
        runs = []
        for seed in self.seeds:
            for name in self.variants:
                inits = self.inits if VARIANTS[name].fused else ("none",)
                runs += [(name, init, seed) for init in inits]
        return runs


FULL = AblationSettings()
QUICK = AblationSettings(
    num_train=6,
    num_test=3,
    fusion_iters=2,
    heads_iters=3,
    seeds=(0,),
    inits=("pretrained",),
    variants=("fusion-only", "+both-alternate", "visible-only"),
)


def run_id(variant: str, init: str, seed: int) -> str:
    """File-safe name of one run, e.g. ``both-alternate_pretrained_s0``."""
    return f"{variant.lstrip('+')}_{init}_s{seed}"


def grid_name(variant: str, init: str) -> str:
    """File name of the sample grid of a (variant, init), e.g. ``det_random.jpg``."""
    return f"{variant.lstrip('+')}_{init}.jpg"


def _metric_names(results: Sequence[Mapping]) -> list[str]:
    return [m for m in (*TASK_METRICS, *FUSION_METRICS) if any(m in r for r in results)]


def aggregate(results: Iterable[Mapping]) -> list[dict]:
    """Group run results by (variant, init) in :data:`VARIANTS` order.

    Returns:
        One dict per group: ``variant``, ``init``, ``seeds`` (sorted list), and for each metric
        ``{"mean", "std", "values"}`` (``std``: sample standard deviation, 0 for one seed;
        non-finite values are left out, a metric with none has mean nan).
    """
    results = list(results)
    names = _metric_names(results)
    groups: dict[tuple[str, str], list[Mapping]] = {}
    for r in results:
        groups.setdefault((r["variant"], r["init"]), []).append(r)
    order = list(VARIANTS)
    rows = []
    for (variant, init), runs in sorted(
        groups.items(), key=lambda kv: (order.index(kv[0][0]), kv[0][1])
    ):
        row: dict = {"variant": variant, "init": init, "seeds": sorted(r["seed"] for r in runs)}
        for name in names:
            values = [float(r[name]) for r in runs if math.isfinite(float(r.get(name, math.nan)))]
            mean = float(np.mean(values)) if values else math.nan
            std = float(np.std(values, ddof=1)) if len(values) > 1 else 0.0
            row[name] = {"mean": mean, "std": std, "values": values}
        rows.append(row)
    return rows


def _cell(stat: Mapping, digits: int) -> str:
    if not math.isfinite(stat["mean"]):
        return "n/a"
    return f"{stat['mean']:.{digits}f} ± {stat['std']:.{digits}f}"


def format_table(rows: Sequence[Mapping]) -> str:
    """Markdown table of :func:`aggregate`'s rows: mean ± standard deviation over seeds."""
    names = [n for n in (*TASK_METRICS, *FUSION_METRICS) if rows and n in rows[0]]
    header = ["variant", "fusion init", "seeds", *(_HEADERS.get(n, n) for n in names)]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for row in rows:
        cells = [row["variant"], row["init"], str(len(row["seeds"]))]
        cells += [_cell(row[n], 1 if n in TASK_METRICS else 3) for n in names]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _label(row: Mapping) -> str:
    return row["variant"] if row["init"] == "none" else f"{row['variant']} ({row['init'][:4]})"


def findings(rows: Sequence[Mapping]) -> list[str]:
    """Plain statements comparing the rows (generated, so they stay true to the numbers).

    For each task metric: the best variant; per initialisation, fusion-only against the better
    single-modality baseline (does fusing pay at all?) and each joint variant against
    fusion-only (do task losses pay?), each with the difference of means and whether it exceeds
    the larger of the two standard deviations (with 3 seeds, a difference inside the spread is
    not evidence).
    """
    lines = []
    for metric in TASK_METRICS:
        scored = [r for r in rows if metric in r and math.isfinite(r[metric]["mean"])]
        if not scored:
            continue
        best = max(scored, key=lambda r: r[metric]["mean"])
        lines.append(f"{_HEADERS[metric]}: highest mean {_label(best)} {_cell(best[metric], 1)}.")
        baselines = [r for r in scored if r["init"] == "none"]
        baseline = max(baselines, key=lambda r: r[metric]["mean"]) if baselines else None
        for init in INITS:
            base = next(
                (r for r in scored if r["variant"] == "fusion-only" and r["init"] == init), None
            )
            if base is None:
                continue
            if baseline is not None:
                lines.append(f"{_HEADERS[metric]}, {init} init: {_compare(base, baseline, metric)}")
            for row in scored:
                if row["init"] == init and row["variant"].startswith("+"):
                    lines.append(f"{_HEADERS[metric]}, {init} init: {_compare(row, base, metric)}")
    return lines


def _compare(row: Mapping, reference: Mapping, metric: str) -> str:
    """ "A vs B +d (beyond/within the spread s)." for the means of ``metric``."""
    diff = row[metric]["mean"] - reference[metric]["mean"]
    spread = max(row[metric]["std"], reference[metric]["std"])
    verdict = "beyond" if abs(diff) > spread else "within"
    return (
        f"{row['variant']} vs {reference['variant']} {diff:+.1f} "
        f"({verdict} the spread {spread:.1f})."
    )


def plot_summary(rows: Sequence[Mapping], path: str | Path, metrics: Sequence[str] = ()) -> Path:
    """Bar chart, one subplot per metric, one bar per (variant, init) with ±1 std error bars.

    Uses matplotlib's Agg canvas directly (no pyplot, no global backend change).
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    path = Path(path)
    metrics = list(metrics) or [m for m in (*TASK_METRICS, "VIF", "Qabf") if rows and m in rows[0]]
    labels = [_label(r) for r in rows]
    colors = [{"pretrained": "C0", "random": "C1"}.get(r["init"], "C2") for r in rows]
    figure = Figure(figsize=(3.6 * len(metrics), 3.4), layout="constrained")
    FigureCanvasAgg(figure)
    for ax, name in zip(figure.subplots(1, len(metrics), squeeze=False).ravel(), metrics):
        means = [r[name]["mean"] for r in rows]
        stds = [r[name]["std"] for r in rows]
        finite = [m if math.isfinite(m) else 0.0 for m in means]
        ax.bar(range(len(rows)), finite, yerr=stds, color=colors, capsize=2)
        ax.set_title(_HEADERS.get(name, name))
        ax.set_xticks(range(len(rows)), labels, rotation=60, ha="right", fontsize=7)
        ax.tick_params(axis="y", labelsize=8)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=80)
    return path


def stored_result(
    out_dir: Path, settings: AblationSettings, variant: str, init: str, seed: int
) -> dict | None:
    """The result of one finished run in ``out_dir/results``, or None when there is none or
    it was written with other settings."""
    path = out_dir / "results" / f"{run_id(variant, init, seed)}.json"
    if not path.is_file():
        return None
    stored = json.loads(path.read_text())
    return stored if stored.get("settings") == settings.run_settings() else None


def save_result(out_dir: Path, result: Mapping[str, Any]) -> Path:
    """Write one run's result (with its ``settings``) where :func:`stored_result` finds it."""
    path = out_dir / "results" / f"{run_id(result['variant'], result['init'], result['seed'])}.json"
    _write_text_atomic(path, json.dumps(result, indent=1, allow_nan=True))
    return path


def load_results(out_dir: Path, settings: AblationSettings) -> list[dict]:
    """The finished runs of ``settings`` in ``out_dir/results`` (files written with other
    settings are left out)."""
    stored = (stored_result(out_dir, settings, *run) for run in settings.runs())
    return [result for result in stored if result is not None]


def _write_text_atomic(path: Path, text: str) -> None:
    """Write ``text`` to a temporary file beside ``path`` and rename it over ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text)
    tmp.replace(path)


def write_report(
    out_dir: Path, settings: AblationSettings, results_md: Path, images: Path, section: str
) -> str:
    """Aggregate the finished runs of ``settings`` (``out_dir/results``, grids in
    ``out_dir/grids``) into the generated section ``section`` of ``results_md``: table, plot
    (``images/section/summary.jpg``), grids (copied beside it) and findings. Returns the table.

    Raises:
        FileNotFoundError: no finished run of these settings.
    """
    results = load_results(out_dir, settings)
    if not results:
        raise FileNotFoundError(
            f"{out_dir / 'results'}: no finished runs of these settings to report"
        )
    seconds = sum(r["seconds"] for r in results)
    rows = aggregate(results)
    table = format_table(rows)
    folder = images / section
    folder.mkdir(parents=True, exist_ok=True)
    plot = plot_summary(rows, folder / "summary.jpg")
    link = os.path.relpath(folder, results_md.parent)
    grids = []
    for row in rows:
        name = grid_name(row["variant"], row["init"])
        if (out_dir / "grids" / name).is_file():
            shutil.copy(out_dir / "grids" / name, folder / name)
            grids.append(f"- {row['variant']} ({row['init']}): [{name}]({link}/{name})")
    s = settings
    body = "\n".join(
        [
            f"Generated by `python tools/ablation.py{' --quick' if section == 'quick' else ''}`"
            f" from {len(results)} of {len(settings.runs())} runs "
            f"({seconds / 60:.0f} min of run time in all).",
            "",
            f"Data: synthetic day/night scenes {s.height}x{s.width}, {s.num_train} train / "
            f"{s.num_test} test pairs. Fusion stage {s.fusion_iters} iterations, task stage "
            f"{s.heads_iters} iterations, batch {s.batch_size}, AdamW lr {s.lr:g}; seeds "
            f"{list(s.seeds)}. Mean ± sample standard deviation over seeds; mAP and mIoU in "
            "percent on the test split.",
            "",
            table,
            "",
            f"![ablation summary]({link}/{plot.name})",
            "",
            "Sample grids (first seed; infrared | visible | task input | detections | "
            "segmentation, two test pairs):",
            "",
            *grids,
            "",
            "Generated comparisons:",
            "",
            *(f"- {line}" for line in findings(rows)),
        ]
    )
    text = results_md.read_text() if results_md.is_file() else "# Results\n"
    _write_text_atomic(results_md, replace_block(text, f"ablation:{section}", body))
    return table
