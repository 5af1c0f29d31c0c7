"""The README's main job: fine-tune the joint model (the shipped pretrained `fast` fusion network,
Faster R-CNN R18-FPN, DeepLabV3+ R18) on the embedded synthetic data, evaluate it (mAP, mIoU,
fusion metrics), fuse the shipped real MSRS pairs with the per-pixel max, the pretrained fusion
network and the jointly trained one, and write a visual report that compares them.

    python tools/demo.py --out output/demo [--config-file CFG] [KEY VALUE ...]

Idempotent: a finished training run in OUT/train is reused (an interrupted one resumes); the
report is rewritten. Everything lands under OUT; the paths of the pictures are printed at the end.
"""

from __future__ import annotations

import argparse
import json
import logging
import time
from pathlib import Path

import numpy as np
from detectron2.data import DatasetCatalog, MetadataCatalog
from detectron2.utils.env import seed_all_rng
from detectron2.utils.logger import setup_logger
from torch import nn

from tsjnet_plugin.d2 import TSJPredictor, TSJTrainer, register_builtin
from tsjnet_plugin.d2.config import load_config
from tsjnet_plugin.d2.data import prepare_synthetic
from tsjnet_plugin.d2.report import results_table, write_sample_report
from tsjnet_plugin.d2.trainer import unwrap
from tsjnet_plugin.data import PairRecord, read_pairs_folder
from tsjnet_plugin.env import SHORT_KEYS, collect_env, format_env
from tsjnet_plugin.fusion import build_model_from_checkpoint, save_checkpoint
from tsjnet_plugin.inference import FusionPredictor, fuse_pairs, write_png_atomic
from tsjnet_plugin.metrics import evaluate_folders, read_gray
from tsjnet_plugin.metrics.report import format_table, plot_means, write_csv, write_json
from tsjnet_plugin.tool_errors import UsageError, user_errors
from tsjnet_plugin.training import baseline_fusions
from tsjnet_plugin.visualize import make_grid, plot_loss_curves

ROOT = Path(__file__).resolve().parents[1]
logger = logging.getLogger("tsjnet_plugin.demo")


def build_cfg(args: argparse.Namespace):
    cfg = load_config(args.config_file, ["OUTPUT_DIR", str(args.out / "train"), *args.opts])
    cfg.freeze()
    return cfg


def train_or_reuse(cfg) -> tuple[dict, nn.Module]:
    """Train (resuming an interrupted run) unless model_final.pth exists; return the evaluation
    results and the (unwrapped) model."""
    final = Path(cfg.OUTPUT_DIR) / "model_final.pth"
    if final.is_file():
        logger.info("reusing the trained model %s", final)
        model = TSJTrainer.build_model(cfg)
        TSJTrainer.build_checkpointer(model, cfg).resume_or_load(str(final), resume=False)
        return TSJTrainer.test(cfg, model), model
    trainer = TSJTrainer(cfg)
    trainer.resume_or_load(resume=True)
    trainer.train()
    return trainer.last_eval_results, unwrap(trainer.model)


def write_baselines(records: list[PairRecord], out_dir: Path) -> dict[str, Path]:
    """Per-pixel max and mean of (IR, visible Y) as reference methods for the fusion metrics."""
    folders = {method: out_dir / method for method in ("max", "mean")}
    for record in records:
        fused = baseline_fusions(read_gray(record.ir_path), read_gray(record.vis_path))
        for method, image in fused.items():
            path = folders[method] / f"{record.sample_id}.png"
            write_png_atomic(image.astype(np.uint8), path)
    return folders


def comparison_grids(
    records: list[PairRecord], methods: dict[str, Path], out_dir: Path
) -> list[Path]:
    """One picture per pair: infrared | visible | each method's fused image (gray)."""
    written = []
    for record in records:
        panels = [("infrared", read_gray(record.ir_path)), ("visible", read_gray(record.vis_path))]
        panels += [
            (name, read_gray(folder / f"{record.sample_id}.png"))
            for name, folder in methods.items()
        ]
        path = out_dir / f"{record.sample_id}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        make_grid([(t, p.astype(np.uint8)) for t, p in panels], columns=3).save(path)
        written.append(path)
    return written


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "output" / "demo")
    parser.add_argument(
        "--config-file", default=str(ROOT / "configs" / "tsj_faster_rcnn_demo_cpu.yaml")
    )
    parser.add_argument("--samples", type=Path, default=ROOT / "assets" / "samples")
    parser.add_argument(
        "--num-synthetic", type=int, default=4, help="synthetic test samples to draw"
    )
    parser.add_argument("opts", nargs=argparse.REMAINDER, help="config overrides: KEY VALUE ...")
    args = parser.parse_args()
    start = time.time()
    with user_errors("demo"):
        if args.out.exists() and not args.out.is_dir():
            raise UsageError(f"--out {args.out} is a file; give a folder")
        cfg = build_cfg(args)
        prepare_synthetic([*cfg.DATASETS.TRAIN, *cfg.DATASETS.TEST])
    args.out.mkdir(parents=True, exist_ok=True)
    setup_logger(output=str(args.out / "demo_log.txt"))
    setup_logger(output=str(args.out / "demo_log.txt"), name="tsjnet_plugin")
    env = collect_env()
    print(format_env({k: env[k] for k in SHORT_KEYS}), flush=True)

    seed_all_rng(cfg.SEED if cfg.SEED >= 0 else None)
    register_builtin()
    results, model = train_or_reuse(cfg)
    report = args.out / "report"
    report.mkdir(parents=True, exist_ok=True)
    (report / "results.json").write_text(json.dumps(results, indent=2, default=float))
    (report / "results.md").write_text(results_table(results) + "\n")
    save_checkpoint(model.fusion.net, args.out / f"fusion_{cfg.MODEL.TSJNET.ARCH}.pth")

    # Pictures: loss curves, synthetic test samples (labelled), the shipped real pairs.
    plot_loss_curves(Path(cfg.OUTPUT_DIR) / "metrics.json", report / "loss_curves.png")
    predictor = TSJPredictor(cfg, model)
    meta = MetadataCatalog.get(cfg.DATASETS.TEST[0])
    classes = (meta.thing_classes, meta.stuff_classes)
    synthetic = [
        PairRecord(str(d["image_id"]), d["ir_file_name"], d["file_name"], d["height"], d["width"])
        for d in DatasetCatalog.get(cfg.DATASETS.TEST[0])[: args.num_synthetic]
    ]
    grids = write_sample_report(predictor, synthetic, report / "synthetic", *classes)
    real = list(read_pairs_folder(args.samples / "ir", args.samples / "vi", name="samples").records)
    grids += write_sample_report(predictor, real, report / "msrs", *classes)

    # Fusion quality on the real pairs: baselines, the fusion network before and after joint
    # training.
    arch = cfg.MODEL.TSJNET.ARCH
    methods = write_baselines(real, args.out / "baselines")
    if cfg.MODEL.TSJNET.WEIGHTS:
        initial = FusionPredictor(build_model_from_checkpoint(cfg.MODEL.TSJNET.WEIGHTS), "cpu")
        fuse_pairs(initial, real, args.out / "pretrained", overwrite=True, progress=False)
        methods[f"TSJNet-{arch} pretrained"] = args.out / "pretrained" / "gray"
    methods[f"TSJNet-{arch} joint"] = report / "msrs" / "fused" / "gray"
    scores = evaluate_folders(args.samples / "ir", args.samples / "vi", methods)
    grids += comparison_grids(real, methods, report / "msrs" / "comparison")
    write_json(scores, report / "fusion_metrics.json")
    write_csv(scores, report / "fusion_metrics.csv")
    (report / "fusion_metrics.md").write_text(format_table(scores) + "\n")
    plot_means(scores, report / "fusion_metrics.png")

    print("\n" + results_table(results))
    print("\nFusion metrics on the shipped MSRS pairs (mean):\n" + format_table(scores))
    print(f"\nDone in {time.time() - start:.0f} s. Pictures:")
    print(f"  loss curves:      {report / 'loss_curves.png'}")
    print(f"  fusion metrics:   {report / 'fusion_metrics.png'}")
    print(
        f"  sample grids:     {report / 'synthetic' / 'grids'}, {report / 'msrs' / 'grids'} ({len(grids)} files)"
    )
    print(f"  fused images:     {report / 'msrs' / 'fused'}")
    print(f"  max | pretrained | joint: {report / 'msrs' / 'comparison'}")
    print(f"  results:          {report / 'results.md'}")


if __name__ == "__main__":
    main()
