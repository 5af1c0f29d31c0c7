"""Write the embedded synthetic IR/visible dataset in the MSRS layout, plus a preview grid.

Example:
    python tools/make_synthetic.py --out datasets/synthetic --num-train 16 --num-test 4

`DIR/preview.png` shows one row per training sample: IR | visible | segmentation colour overlay
with the boxes and class names drawn. The dataset is read back with `read_msrs` to draw it, so
the preview also checks the round trip.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from tsjnet_plugin.data import (
    PairDataset,
    PairRecord,
    read_ir,
    read_msrs,
    read_seg_label,
    read_visible,
    write_synthetic_msrs,
)
from tsjnet_plugin.data.synthetic import LIGHTINGS
from tsjnet_plugin.tool_errors import user_errors

# RGB per segmentation value (0 = background, not drawn); cycles past the end.
PALETTE = np.array(
    [(0, 0, 0), (255, 64, 64), (64, 160, 255), (255, 210, 0), (0, 220, 120), (220, 80, 255)],
    dtype=np.uint8,
)
GAP = 2


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True, help="dataset folder to write")
    parser.add_argument("--num-train", type=int, default=16, help="training pairs")
    parser.add_argument("--num-test", type=int, default=4, help="test pairs")
    parser.add_argument("--height", type=int, default=128, help="image height H")
    parser.add_argument("--width", type=int, default=160, help="image width W")
    parser.add_argument("--seed", type=int, default=0, help="numpy default_rng seed")
    parser.add_argument(
        "--lighting",
        choices=LIGHTINGS,
        default="day_night",
        help="day_night: half the scenes in daylight (docs/data.md); night: all at night",
    )
    parser.add_argument("--preview-rows", type=int, default=4, help="samples in preview.png")
    return parser.parse_args(argv)


def draw_preview(dataset: PairDataset, num_rows: int) -> Image.Image:
    """Grid of IR | visible | segmentation overlay with boxes, one row per sample."""
    rows = [_preview_row(dataset, record) for record in dataset.records[:num_rows]]
    width = max(row.width for row in rows)
    grid = Image.new("RGB", (width, sum(row.height + GAP for row in rows) - GAP), "white")
    top = 0
    for row in rows:
        grid.paste(row, (0, top))
        top += row.height + GAP
    return grid


def _preview_row(dataset: PairDataset, record: PairRecord) -> Image.Image:
    ir = np.round(read_ir(record.ir_path) * 255).astype(np.uint8)
    vis = read_visible(record.vis_path)
    overlay = vis.copy()
    if record.seg_path is not None:
        seg = read_seg_label(record.seg_path, len(dataset.stuff_classes), dataset.ignore_label)
        labelled = (seg > 0) & (seg != dataset.ignore_label)
        colours = PALETTE[seg[labelled] % len(PALETTE)]
        overlay[labelled] = (0.4 * overlay[labelled] + 0.6 * colours).astype(np.uint8)
    overlay_image = Image.fromarray(overlay)
    draw = ImageDraw.Draw(overlay_image)
    if record.boxes is not None:
        for box, label in zip(record.boxes.tolist(), record.labels.tolist()):
            colour = tuple(int(c) for c in PALETTE[(label + 1) % len(PALETTE)])
            draw.rectangle([box[0], box[1], box[2] - 1, box[3] - 1], outline=colour)
            draw.text((box[0] + 1, box[1] + 1), dataset.thing_classes[label], fill=colour)
    panels = [Image.fromarray(ir).convert("RGB"), Image.fromarray(vis), overlay_image]
    row = Image.new("RGB", (3 * record.width + 2 * GAP, record.height), "white")
    for column, panel in enumerate(panels):
        row.paste(panel, (column * (record.width + GAP), 0))
    return row


def main(argv: Sequence[str] | None = None) -> Path:
    args = parse_args(argv)
    root = write_synthetic_msrs(
        args.out, args.num_train, args.num_test, args.height, args.width, args.seed, args.lighting
    )
    dataset = read_msrs(root, "train")
    preview_path = root / "preview.png"
    draw_preview(dataset, args.preview_rows).save(preview_path)
    print(f"wrote {args.num_train} train + {args.num_test} test pairs to {root}; {preview_path}")
    return preview_path


if __name__ == "__main__":
    with user_errors("make_synthetic", ValueError):
        main()
