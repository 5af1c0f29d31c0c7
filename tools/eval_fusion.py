"""Evaluate fused images with the standard fusion metrics (EN ... MSE) and compare methods.

Example:
    python tools/eval_fusion.py --ir data/ir --vis data/vi \
        --fused out/tsjnet --fused out/cddfuse --name TSJNet --name CDDFuse --out results/msrs

Files are matched by stem across folders. Writes PREFIX.json (per method: per image and mean),
PREFIX.csv and PREFIX.png (bar chart of the means), and prints the table of means. Each
``--crop STEM:X,Y,W,H`` adds a row to PREFIX_crops.png: that window of IR, visible, per-pixel max
and every method, enlarged 2x (nearest neighbour) to show noise, halos and frames. Metric
conventions follow the MMIF-CDDFuse reference evaluator; see docs/metrics.md.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from tqdm import tqdm

from tsjnet_plugin.metrics import METRIC_NAMES, evaluate_folders
from tsjnet_plugin.metrics.folders import crop_comparison
from tsjnet_plugin.metrics.report import format_table, plot_means, write_csv, write_json
from tsjnet_plugin.visualize import make_grid


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ir", required=True, type=Path, help="folder of infrared images")
    parser.add_argument("--vis", required=True, type=Path, help="folder of visible images")
    parser.add_argument(
        "--fused", required=True, type=Path, action="append", help="folder of fused images"
    )
    parser.add_argument(
        "--name", action="append", help="method name for each --fused (default: folder name)"
    )
    parser.add_argument(
        "--metrics", nargs="+", default=list(METRIC_NAMES), choices=METRIC_NAMES, metavar="M"
    )
    parser.add_argument(
        "--crop",
        action="append",
        default=[],
        metavar="STEM:X,Y,W,H",
        help="a window to show side by side at 2x in PREFIX_crops.png (repeatable)",
    )
    parser.add_argument("--out", required=True, type=Path, help="output prefix (no suffix)")
    return parser.parse_args(argv)


def parse_crop(spec: str) -> tuple[str, tuple[int, int, int, int]]:
    """``"STEM:X,Y,W,H"`` -> ``(stem, (x, y, w, h))``."""
    stem, _, window = spec.rpartition(":")
    try:
        x, y, w, h = (int(v) for v in window.split(","))
    except ValueError:
        raise ValueError(f"--crop {spec!r}: expected STEM:X,Y,W,H with integer pixels") from None
    if not stem:
        raise ValueError(f"--crop {spec!r}: expected STEM:X,Y,W,H with integer pixels")
    return stem, (x, y, w, h)


def method_folders(fused: list[Path], names: list[str] | None) -> dict[str, Path]:
    """``{method name: folder}`` from the repeated ``--fused`` / ``--name`` arguments."""
    names = names or [folder.resolve().name for folder in fused]
    if len(names) != len(fused):
        raise ValueError(f"got {len(names)} --name for {len(fused)} --fused; give one per folder")
    if len(set(names)) != len(names):
        raise ValueError(f"method names must be unique; got {names} (use --name)")
    return dict(zip(names, fused))


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        methods = method_folders(args.fused, args.name)
        crops = [parse_crop(spec) for spec in args.crop]
        panels = crop_comparison(args.ir, args.vis, methods, crops) if crops else []
        results = evaluate_folders(
            args.ir,
            args.vis,
            methods,
            metrics=args.metrics,
            progress=lambda stems: tqdm(stems, desc="images", unit="img"),
        )
    except ValueError as error:
        print(f"eval_fusion: error: {error}", file=sys.stderr)
        return 2
    args.out.parent.mkdir(parents=True, exist_ok=True)
    print(format_table(results))
    for written in (
        write_json(results, args.out.with_name(args.out.name + ".json")),
        write_csv(results, args.out.with_name(args.out.name + ".csv")),
        plot_means(results, args.out.with_name(args.out.name + ".png")),
    ):
        print(f"wrote {written}")
    if panels:
        crops_png = args.out.with_name(args.out.name + "_crops.png")
        width = max(image.shape[1] for _, image in panels)
        make_grid(panels, columns=len(methods) + 3, min_width=2 * width).save(crops_png)
        print(f"wrote {crops_png}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
