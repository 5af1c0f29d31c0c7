"""Train a TSJNet fusion network on image pairs (fusion only, no labels needed).

    python tools/train_fusion.py --ir DIR --vis DIR --out work_dirs/fusion
    python tools/train_fusion.py --dataset roadscene:../shared/data/roadscene \
        --ir ../shared/data/msrs_samples/ir --vis ../shared/data/msrs_samples/vi \
        --arch fast --iterations 3000 --out work_dirs/fast
    python tools/train_fusion.py ... --resume          # continue OUT/last.pth exactly

Sources: any number of ``--dataset READER:ROOT[:SPLIT]`` (readers of tsjnet_plugin.data.READERS)
and ``--ir DIR --vis DIR`` folder pairs (paired by file stem). Validation uses a fixed held-aside
split: in each source, every ``--val-every-nth`` pair (the last pair of a source with fewer
pairs), or ``--val-ir/--val-vis`` folders.
Writes OUT/best.pth, OUT/last.pth, OUT/metrics.jsonl, OUT/split.json and pictures; see
docs/training.md.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict
from pathlib import Path

import torch

from tsjnet_plugin.data import PairRecord, read_dataset, read_pairs_folder
from tsjnet_plugin.data.records import DatasetError
from tsjnet_plugin.fusion import ARCHS, CheckpointError, FusionLossWeights
from tsjnet_plugin.fusion.checkpoint import read_checkpoint, remove_partial_saves
from tsjnet_plugin.training import FusionTrainConfig, FusionTrainer, load_pairs


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    data = parser.add_argument_group("data")
    data.add_argument(
        "--dataset",
        action="append",
        default=[],
        metavar="READER:ROOT[:SPLIT]",
        help="a dataset read with a tsjnet_plugin reader (repeatable)",
    )
    data.add_argument(
        "--ir",
        type=Path,
        action="append",
        default=[],
        help="infrared folder (repeatable; one --vis each)",
    )
    data.add_argument("--vis", type=Path, action="append", default=[], help="visible folder")
    data.add_argument(
        "--val-every-nth",
        type=int,
        default=10,
        help="hold aside every N-th pair of each source for validation",
    )
    data.add_argument("--val-ir", type=Path, help="validation infrared folder instead")
    data.add_argument("--val-vis", type=Path, help="validation visible folder instead")
    model = parser.add_argument_group("model")
    model.add_argument("--arch", default="fast", choices=sorted(ARCHS))
    model.add_argument("--init", help="fusion checkpoint (path or shipped name) to start from")
    train = parser.add_argument_group("training")
    defaults = FusionTrainConfig()
    train.add_argument("--iterations", type=int, default=defaults.iterations)
    train.add_argument("--batch-size", type=int, default=defaults.batch_size)
    train.add_argument("--crop", type=int, help="patch side (default: the model's minimum side)")
    train.add_argument("--lr", type=float, default=defaults.lr)
    train.add_argument("--weight-decay", type=float, default=defaults.weight_decay)
    train.add_argument("--warmup", type=int, default=defaults.warmup)
    train.add_argument(
        "--val-interval",
        type=int,
        default=defaults.val_every,
        help="validate and write last.pth every N iterations",
    )
    train.add_argument(
        "--log-interval",
        type=int,
        default=defaults.log_every,
        help="log the loss terms every N iterations",
    )
    train.add_argument(
        "--loss-weight",
        action="append",
        default=[],
        metavar="TERM=VALUE",
        help="change one fusion loss weight (intensity, gradient, ssim, diversity, recon_vis, "
        "recon_ir; official 20, 20, 10, 0.1, 6, 1); repeatable",
    )
    train.add_argument(
        "--loss-padding",
        choices=("zeros", "reflect"),
        help="padding of the loss's Sobel and SSIM (default: zeros for official, else reflect)",
    )
    train.add_argument("--seed", type=int, default=defaults.seed)
    train.add_argument("--no-amp", action="store_true", help="no mixed precision on CUDA")
    train.add_argument(
        "--with-cp",
        action="store_true",
        help="activation checkpointing: less memory for more compute (large crops, GPUs)",
    )
    train.add_argument("--device", help="cpu, cuda, cuda:1 (default: cuda if available)")
    train.add_argument("--threads", type=int, help="torch CPU threads (default: torch's)")
    parser.add_argument("--out", type=Path, required=True, help="work directory")
    parser.add_argument("--resume", action="store_true", help="continue from OUT/last.pth")
    parser.add_argument("--no-progress", action="store_true")
    return parser.parse_args(argv)


def gather_sources(args: argparse.Namespace) -> list[list[PairRecord]]:
    """The records of every source, each sorted by sample id; ids prefixed with the source."""
    if len(args.ir) != len(args.vis):
        raise ValueError(f"got {len(args.ir)} --ir for {len(args.vis)} --vis; give them in pairs")
    datasets = []
    for spec in args.dataset:
        parts = spec.split(":")
        if len(parts) not in (2, 3):
            raise ValueError(f"--dataset {spec!r}: expected READER:ROOT or READER:ROOT:SPLIT")
        datasets.append(read_dataset(parts[0], parts[1], parts[2] if len(parts) == 3 else None))
    for ir_dir, vis_dir in zip(args.ir, args.vis):
        datasets.append(read_pairs_folder(ir_dir, vis_dir, name=ir_dir.parent.name or "pairs"))
    sources = []
    for dataset in datasets:
        for record in dataset.records:
            record.sample_id = f"{dataset.name}/{record.sample_id}"
        sources.append(list(dataset.records))
    if not any(sources):
        raise ValueError("no pairs: give --dataset READER:ROOT or --ir DIR --vis DIR")
    return sources


def split_records(
    sources: list[list[PairRecord]], args: argparse.Namespace
) -> tuple[list[PairRecord], list[PairRecord]]:
    """(train, val): ``--val-ir/--val-vis`` if given; else, in each source, every N-th pair is
    held aside (the last pair of a source with fewer than N pairs)."""
    records = [r for source in sources for r in source]
    if args.val_ir or args.val_vis:
        if not (args.val_ir and args.val_vis):
            raise ValueError("give both --val-ir and --val-vis")
        return records, list(read_pairs_folder(args.val_ir, args.val_vis, name="val").records)
    n = args.val_every_nth
    if n < 2:
        raise ValueError(f"--val-every-nth must be at least 2, got {n}")
    train, val = [], []
    for source in sources:
        held = {len(source) - 1} if len(source) < n else set(range(n - 1, len(source), n))
        if len(source) < 2:
            held = set()
        for index, record in enumerate(source):
            (val if index in held else train).append(record)
    if not val:
        raise ValueError("no source has two pairs: nothing to hold aside; give --val-ir/--val-vis")
    return train, val


def parse_loss_weights(specs: list[str]) -> dict[str, float]:
    """The official fusion loss weights with ``TERM=VALUE`` changes applied."""
    weights = asdict(FusionLossWeights())
    for spec in specs:
        term, _, value = spec.partition("=")
        if term not in weights:
            raise ValueError(f"--loss-weight {spec!r}: unknown term; choose from {list(weights)}")
        try:
            weights[term] = float(value)
        except ValueError:
            raise ValueError(f"--loss-weight {spec!r}: expected TERM=NUMBER") from None
    return weights


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    try:
        loss_weights = parse_loss_weights(args.loss_weight)
    except ValueError as error:
        print(f"train_fusion: error: {error}", file=sys.stderr)
        return 2
    cfg = FusionTrainConfig(
        arch=args.arch,
        arch_overrides={"with_cp": True} if args.with_cp else {},
        init=args.init,
        crop=args.crop,
        batch_size=args.batch_size,
        iterations=args.iterations,
        lr=args.lr,
        weight_decay=args.weight_decay,
        warmup=args.warmup,
        val_every=args.val_interval,
        log_every=args.log_interval,
        seed=args.seed,
        amp=not args.no_amp,
        loss_weights=loss_weights,
        loss_padding=args.loss_padding,
    )
    try:
        if args.init:
            read_checkpoint(args.init)  # a bad --init fails before any data is loaded
        train_records, val_records = split_records(gather_sources(args), args)
        args.out.mkdir(parents=True, exist_ok=True)
        for path in remove_partial_saves(args.out):
            print(f"removed {path}, left by a save that was interrupted")
        split = {
            "train": [r.sample_id for r in train_records],
            "val": [r.sample_id for r in val_records],
        }
        (args.out / "split.json").write_text(json.dumps(split, indent=1))
        progress = not args.no_progress
        trainer = FusionTrainer(
            cfg,
            load_pairs(train_records, progress),
            load_pairs(val_records, progress),
            args.out,
            args.device,
            progress,
        )
        if args.resume:
            resumed = trainer.resume()
            print(f"resumed {resumed} at iteration {trainer.iteration}")
        print(
            f"training {args.arch} on {len(train_records)} pairs, validating on "
            f"{len(val_records)}; crops {trainer.crop}px, batch {cfg.batch_size}"
        )
        result = trainer.train()
    except (ValueError, DatasetError, CheckpointError, FileNotFoundError) as error:
        print(f"train_fusion: error: {error}", file=sys.stderr)
        return 2
    print(
        json.dumps(
            {
                "iteration": trainer.iteration,
                "validation": result.get("metrics", {}),
                "baselines": trainer.validator.baselines,
            },
            indent=1,
        )
    )
    print(f"best checkpoint: {args.out / 'best.pth'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
