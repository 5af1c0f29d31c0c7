"""Fuse infrared-visible pairs into grayscale and colour PNGs.

    python tools/fuse.py --ir DIR --vis DIR --out OUT        # the shipped fast model
    python tools/fuse.py --ir a_ir.png --vis a_vis.png --checkpoint TSJNet.pth --out OUT
    python tools/fuse.py --list pairs.txt --checkpoint model_final.pth --out OUT  # "ir vis" per line

Folders are paired by file stem. Results go to OUT/gray/<stem>.png and OUT/color/<stem>.png; an
interrupted run resumes where it stopped (existing results are kept unless --overwrite; its
temporary files are removed). OUT/fuse_manifest.json records the weights (path and sha256): a run
with other weights into the same OUT is refused unless --overwrite.
Without --checkpoint the weights shipped with the package (``tsjnet_fast_roadscene``) are used.
--checkpoint takes a shipped name or a file: ours, the official four-part TSJNet file, or a
detectron2 ``model_final.pth`` / mmengine checkpoint of a model with a TSJNet fusion network
(its fusion weights and architecture are extracted). --random-init runs an untrained network of
--arch (for smoke tests only).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from pathlib import Path

from tsjnet_plugin.data import PairRecord, read_image_size, read_pairs_folder
from tsjnet_plugin.fusion import DEFAULT_WEIGHTS, build_fusion_model, build_model_from_checkpoint
from tsjnet_plugin.fusion.pretrained import resolve_weights
from tsjnet_plugin.inference import (
    FusionPredictor,
    check_outputs_are_not_inputs,
    fuse_pairs,
    output_paths,
    remove_partial_outputs,
)
from tsjnet_plugin.tool_errors import UsageError, user_errors

MANIFEST = "fuse_manifest.json"


def positive_int(text: str) -> int:
    """argparse type: an integer >= 1."""
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def record_for(ir: Path, vis: Path, sample_id: str) -> PairRecord:
    ir_size, vis_size = read_image_size(ir), read_image_size(vis)
    if ir_size != vis_size:
        raise UsageError(f"{ir} is {ir_size} but {vis} is {vis_size} (HxW); pair same-size images")
    return PairRecord(sample_id, str(ir), str(vis), *ir_size)


def collect_pairs(args: argparse.Namespace) -> list[PairRecord]:
    if args.list:
        records, seen = [], {}
        if not args.list.is_file():
            raise UsageError(f"--list {args.list} does not exist")
        for number, line in enumerate(args.list.read_text().splitlines(), 1):
            if not line.strip() or line.lstrip().startswith("#"):
                continue
            parts = line.split()
            if len(parts) != 2:
                raise UsageError(f"{args.list}:{number}: expected 'IR_PATH VIS_PATH', got {line!r}")
            ir, vis = (Path(p) for p in parts)
            if ir.stem in seen:
                raise UsageError(
                    f"{args.list}:{number}: {ir} would write the same output name "
                    f"{ir.stem!r} as line {seen[ir.stem]}; give pairs distinct IR file names"
                )
            seen[ir.stem] = number
            records.append(record_for(ir, vis, ir.stem))
        return records
    if args.ir is None or args.vis is None:
        raise UsageError("give --ir and --vis (folders or files), or --list")
    for flag, path in (("--ir", args.ir), ("--vis", args.vis)):
        if not path.exists():
            raise UsageError(f"{flag} {path} does not exist")
    if args.ir.is_dir() and args.vis.is_dir():
        return list(read_pairs_folder(args.ir, args.vis).records)
    if args.ir.is_file() and args.vis.is_file():
        return [record_for(args.ir, args.vis, args.ir.stem)]
    raise UsageError(f"--ir {args.ir} and --vis {args.vis} must both be folders or both files")


def weights_identity(args: argparse.Namespace) -> dict[str, str]:
    """What fuse_manifest.json records: the checkpoint file and its sha256, or the random arch."""
    if args.random_init:
        return {"weights": f"random-init {args.arch}"}
    path = resolve_weights(args.checkpoint)
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return {"weights": str(path.resolve()), "sha256": digest.hexdigest()}


def check_manifest(out: Path, identity: dict[str, str], overwrite: bool) -> None:
    """Refuse to mix results of other weights into ``out``, unless ``overwrite``."""
    if overwrite:
        return
    manifest = out / MANIFEST
    if manifest.is_file():
        try:
            recorded = json.loads(manifest.read_text())
        except (OSError, json.JSONDecodeError):
            recorded = None
        if recorded != identity:
            was = recorded.get("weights") if isinstance(recorded, dict) else "unreadable"
            raise UsageError(
                f"--out {out} holds results of other weights ({was}, see {manifest}); this run "
                f"uses {identity['weights']}: choose another --out, or pass --overwrite to redo "
                "every pair"
            )
        return
    gray_folder = output_paths(out, "any")[0].parent
    if gray_folder.is_dir() and any(gray_folder.glob("*.png")):
        raise UsageError(
            f"--out {out} holds results without {MANIFEST} (weights unknown): choose another "
            "--out, or pass --overwrite to redo every pair"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ir", type=Path, help="infrared folder or file")
    parser.add_argument("--vis", type=Path, help="visible folder or file")
    parser.add_argument("--list", type=Path, help="text file with 'IR_PATH VIS_PATH' per line")
    parser.add_argument("--out", type=Path, required=True)
    weights = parser.add_mutually_exclusive_group()
    weights.add_argument(
        "--checkpoint",
        default=DEFAULT_WEIGHTS["fast"],
        help="shipped name or file: ours, the official TSJNet.pth, a detectron2 or mmengine "
        f"checkpoint (default: {DEFAULT_WEIGHTS['fast']})",
    )
    weights.add_argument(
        "--random-init", action="store_true", help="untrained network (smoke test)"
    )
    parser.add_argument("--arch", default="official", help="architecture for --random-init")
    parser.add_argument("--batch-size", type=positive_int, default=1)
    parser.add_argument(
        "--device", default=None, help="cpu, cuda, cuda:1 (default: cuda if available)"
    )
    parser.add_argument(
        "--amp",
        nargs="?",
        const="float16",
        choices=("float16", "bfloat16"),
        help="autocast on CUDA (--amp alone: float16; bfloat16 where float16 overflows)",
    )
    parser.add_argument("--overwrite", action="store_true", help="redo pairs whose results exist")
    args = parser.parse_args()
    with user_errors("fuse", ValueError):
        if args.out.exists() and not args.out.is_dir():
            raise UsageError(f"--out {args.out} is a file; give a folder for the results")
        records = collect_pairs(args)
        check_outputs_are_not_inputs(records, args.out)
        identity = weights_identity(args)
        check_manifest(args.out, identity, args.overwrite)
        if args.random_init:
            model = build_fusion_model(args.arch)
        else:
            model = build_model_from_checkpoint(args.checkpoint)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / MANIFEST).write_text(json.dumps(identity, indent=1) + "\n")
    removed = remove_partial_outputs(args.out)
    if removed:
        print(f"removed {len(removed)} temporary file(s) of an interrupted run: {removed[0]} ...")
    predictor = FusionPredictor(model, args.device, amp=args.amp)
    done = fuse_pairs(predictor, records, args.out, args.batch_size, args.overwrite)
    skipped = len(records) - len(done)
    print(
        f"fused {len(done)} pair(s), kept {skipped} existing; results in {args.out}/{{gray,color}}"
    )


if __name__ == "__main__":
    sys.exit(main())
