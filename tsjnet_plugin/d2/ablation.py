"""Training runs of the fusion ablation (see :mod:`tsjnet_plugin.ablation` for the variants).

Every run has two stages at fixed budgets, on one synthetic dataset (day/night scenes):

1. **fusion** (fused variants only): the ``fast`` fusion network, from the shipped weights or
   random init, trains ``fusion_iters`` iterations in :class:`~tsjnet_plugin.d2.TSJTrainer`
   with the fusion loss plus the variant's task losses (fusion-only: none; the task networks
   of this stage are discarded). The trained network then fuses every pair once;
2. **tasks**: a fresh detector (Faster R-CNN R18-FPN) and segmentor (DeepLabV3+ R18) train
   ``heads_iters`` iterations (``sum`` schedule) on those frozen images, and are evaluated on
   the test split (COCO mAP, mIoU). The no-fusion baselines run only this stage, on the
   visible image or on the IR image (gray, as three channels).

So every variant's images are judged by the same task networks at the same budget, and every
fused variant trains its fusion network for the same iterations on the same data. Fusion
metrics compare the luminance the task networks see with the two sources, on the test split.

A run's result goes to ``OUT/results/<run id>.json`` when it ends; a later call skips the runs
whose file records the same settings, so an interrupted ablation resumes by running it again.
"""

from __future__ import annotations

import logging
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

import torch
from detectron2.config import CfgNode, get_cfg
from detectron2.evaluation import DatasetEvaluators
from detectron2.utils.env import seed_all_rng
from torch import nn

from tsjnet_plugin.ablation import (
    FUSION_METRICS,
    VARIANTS,
    AblationSettings,
    Variant,
    grid_name,
    run_id,
    save_result,
    stored_result,
)
from tsjnet_plugin.data import (
    SYNTHETIC_STUFF_CLASSES,
    SYNTHETIC_THING_CLASSES,
    read_dataset,
    read_ir,
    read_visible,
    write_synthetic_msrs,
)
from tsjnet_plugin.fusion import FusionOutput, ir_to_tensor, recolor, rgb_to_y, visible_to_tensor
from tsjnet_plugin.fusion.checkpoint import atomic_torch_save
from tsjnet_plugin.fusion.color import to_uint8_image
from tsjnet_plugin.inference import write_png_atomic
from tsjnet_plugin.metrics import mean_scores, score_pair
from tsjnet_plugin.visualize import draw_detections, make_grid, overlay_segmentation, to_rgb

from .config import add_tsjnet_config
from .data import register_pair_dataset
from .predictor import TSJPredictor
from .trainer import TSJTrainer, unwrap

__all__ = ["InputPassthrough", "prepare_data", "run_one"]

logger = logging.getLogger(__name__)
ROOT = Path(__file__).resolve().parents[2]
BASE_CONFIG = ROOT / "configs" / "tsj_faster_rcnn_demo_cpu.yaml"
RATIO = (2, 1)  # "ratio" schedule: two detection steps per segmentation step


class InputPassthrough(nn.Module):
    """Stands in for the fusion network when the task networks train on ready-made images:
    the "fused" luminance is the visible Y itself, so the joint model's recoloured input is the
    visible image (the ready-made image put in the visible slot). No parameters."""

    def forward(
        self, ir: torch.Tensor, vis_y: torch.Tensor, with_aux: bool = False
    ) -> torch.Tensor | FusionOutput:
        if with_aux:
            return FusionOutput(vis_y, None, None, None)
        return vis_y


class _TaskStageTrainer(TSJTrainer):
    """TSJTrainer of fresh task networks on ready-made images (:class:`InputPassthrough`), with
    the task evaluators only."""

    @classmethod
    def build_model(cls, cfg: CfgNode) -> nn.Module:
        model = super().build_model(cfg)
        model.fusion.net = InputPassthrough()
        return model

    @classmethod
    def build_evaluator(cls, cfg: CfgNode, dataset_name: str, output_folder: str | None = None):
        output_folder = output_folder or f"{cfg.OUTPUT_DIR}/inference/{dataset_name}"
        return DatasetEvaluators(cls.build_task_evaluators(cfg, dataset_name, output_folder))


def prepare_data(out_dir: Path, settings: AblationSettings) -> Path:
    """Write (or reuse) the synthetic dataset of ``settings`` under ``out_dir/data``."""
    name = f"synthetic_{settings.height}x{settings.width}_{settings.num_train}_{settings.num_test}"
    return write_synthetic_msrs(
        out_dir / "data" / name,
        settings.num_train,
        settings.num_test,
        settings.height,
        settings.width,
        seed=0,
    )


@dataclass(frozen=True)
class _MsrsSplit:
    """Dataset loader compared by value, so registering the same folder twice is a no-op."""

    root: Path
    split: str

    def __call__(self):
        return read_dataset("msrs", self.root, self.split)


def _register(name: str, root: Path) -> tuple[str, str]:
    names = (f"{name}_train", f"{name}_test")
    for dataset, split in zip(names, ("train", "test")):
        register_pair_dataset(
            dataset,
            _MsrsSplit(root, split),
            thing_classes=SYNTHETIC_THING_CLASSES,
            stuff_classes=SYNTHETIC_STUFF_CLASSES,
        )
    return names


def _base_cfg(settings: AblationSettings, out: Path, iters: int, seed: int, *opts) -> CfgNode:
    cfg = get_cfg()
    add_tsjnet_config(cfg)
    cfg.merge_from_file(str(BASE_CONFIG))
    cfg.merge_from_list(
        [
            "OUTPUT_DIR",
            str(out),
            "SEED",
            seed,
            "SOLVER.IMS_PER_BATCH",
            settings.batch_size,
            "SOLVER.BASE_LR",
            settings.lr,
            "SOLVER.MAX_ITER",
            iters,
            "SOLVER.STEPS",
            (),
            "SOLVER.WARMUP_ITERS",
            max(1, iters // 10),
            "SOLVER.CHECKPOINT_PERIOD",
            iters + 1,
            "TEST.EVAL_PERIOD",
            0,
            "DATALOADER.NUM_WORKERS",
            0,
            *opts,
        ]
    )
    cfg.freeze()
    return cfg


def _fusion_stage(
    variant: Variant, init: str, seed: int, settings: AblationSettings, data: tuple, out: Path
) -> nn.Module:
    """Train the fusion network of a fused variant; return it (eval mode)."""
    opts = [
        "DATASETS.TRAIN",
        (data[0],),
        "DATASETS.TEST",
        (),
        "MODEL.TSJNET.WEIGHTS",
        "tsjnet_fast_roadscene" if init == "pretrained" else "",
        "SOLVER.LR_FACTORS.FUSION",
        0.1 if init == "pretrained" else 1.0,
        "SCHEDULE.MODE",
        variant.schedule,
        "SCHEDULE.RATIO",
        list(RATIO),
    ]
    if "seg" not in variant.tasks:
        opts += ["MODEL.TSJNET.SEGMENTOR.TYPE", ""]
    if "det" not in variant.tasks:
        opts += ["MODEL.TSJNET.DETECTOR.META_ARCHITECTURE", ""]
    cfg = _base_cfg(settings, out, settings.fusion_iters, seed, *opts)
    seed_all_rng(seed)
    trainer = TSJTrainer(cfg)
    trainer.train()
    fusion = unwrap(trainer.model).fusion.net.eval()
    atomic_torch_save(fusion.state_dict(), out / "fusion.pth")
    return fusion


def _task_inputs(
    source: str, fusion: nn.Module | None, data_root: Path, out: Path
) -> dict[str, float]:
    """Write the task networks' images of every pair (MSRS layout under ``out``, labels copied)
    and return the mean fusion metrics of their luminance on the test split."""
    scores: list[dict[str, float]] = []
    for split in ("train", "test"):
        dataset = read_dataset("msrs", data_root, split)
        for sub in ("Annotations", "Segmentation_labels", "ir"):
            shutil.copytree(data_root / split / sub, out / split / sub, dirs_exist_ok=True)
        for record in dataset:
            ir = ir_to_tensor(read_ir(record.ir_path))
            vis_rgb = visible_to_tensor(read_visible(record.vis_path))
            vis_y = rgb_to_y(vis_rgb)
            if source == "fused":
                with torch.no_grad():
                    y = fusion(ir, vis_y)
                rgb = recolor(y, vis_rgb)
            else:
                y = vis_y if source == "visible" else ir
                rgb = vis_rgb if source == "visible" else ir.expand(-1, 3, -1, -1)
            write_png_atomic(to_uint8_image(rgb), out / split / "vi" / Path(record.vis_path).name)
            if split == "test":
                levels = [to_uint8_image(t) for t in (y, ir, vis_y)]
                scores.append(score_pair(*levels, FUSION_METRICS))
    for name in ("classes.json", "seg_classes.txt"):
        shutil.copy(data_root / name, out / name)
    return mean_scores(scores)


def _task_stage(
    settings: AblationSettings, seed: int, inputs: Path, out: Path, name: str
) -> tuple[dict, CfgNode, nn.Module]:
    train, test = _register(name, inputs)
    cfg = _base_cfg(
        settings,
        out,
        settings.heads_iters,
        seed,
        "DATASETS.TRAIN",
        (train,),
        "DATASETS.TEST",
        (test,),
        "SCHEDULE.MODE",
        "sum",
        *(
            x
            for key in ("INTENSITY", "GRADIENT", "SSIM", "DIVERSITY", "RECON_VIS", "RECON_IR")
            for x in (f"MODEL.TSJNET.FUSION_LOSS.{key}", 0.0)
        ),
    )
    seed_all_rng(seed)
    trainer = _TaskStageTrainer(cfg)
    trainer.train()
    return trainer.last_eval_results, cfg, unwrap(trainer.model)


def _grid(cfg: CfgNode, model: nn.Module, data_root: Path, inputs: Path, label: str):
    """Rows of IR | visible | task input | detections | segmentation for two test pairs."""
    predictor = TSJPredictor(cfg, model)
    panels = []
    for record in read_dataset("msrs", data_root, "test").records[:2]:
        ir, vis = read_ir(record.ir_path), read_visible(record.vis_path)
        image = read_visible(inputs / "test" / "vi" / Path(record.vis_path).name)
        out = predictor(ir, image)
        inst = out["instances"]
        boxes = draw_detections(
            image,
            inst.pred_boxes.tensor.numpy(),
            inst.pred_classes.tolist(),
            inst.scores.tolist(),
            SYNTHETIC_THING_CLASSES,
            0.5,
        )
        seg = overlay_segmentation(image, out["sem_seg"].numpy(), len(SYNTHETIC_STUFF_CLASSES))
        panels += [("infrared", to_rgb(ir)), ("visible", vis), (label, image)]
        panels += [("detections", boxes), ("segmentation", seg)]
    return make_grid(panels, columns=5, min_width=128)


def run_one(
    out_dir: Path, settings: AblationSettings, variant_name: str, init: str, seed: int
) -> dict:
    """Run (or reuse) one ablation run; return its result (see :mod:`tsjnet_plugin.ablation`).

    Writes ``out_dir/results/<run id>.json`` and, for the first seed, ``.../grids/<variant>_
    <init>.jpg``; the run's training folders are removed when it ends.
    """
    stored = stored_result(out_dir, settings, variant_name, init, seed)
    if stored is not None:
        return stored
    name = run_id(variant_name, init, seed)
    variant = VARIANTS[variant_name]
    data_root = prepare_data(out_dir, settings)
    work = out_dir / "runs" / name
    if work.exists():
        shutil.rmtree(work)
    start = time.time()
    fusion = None
    if variant.fused:
        fusion = _fusion_stage(
            variant,
            init,
            seed,
            settings,
            _register(f"ablation_{data_root.name}", data_root),
            work / "fusion",
        )
    fusion_scores = _task_inputs(variant.source, fusion, data_root, work / "inputs")
    results, cfg, model = _task_stage(settings, seed, work / "inputs", work / "tasks", name)
    if seed == settings.seeds[0]:
        grid = _grid(cfg, model, data_root, work / "inputs", f"input: {variant_name}")
        grid_path = out_dir / "grids" / grid_name(variant_name, init)
        grid_path.parent.mkdir(parents=True, exist_ok=True)
        grid.save(grid_path, quality=80)
    result = {
        "variant": variant_name,
        "init": init,
        "seed": seed,
        "AP50": float(results["bbox"]["AP50"]),
        "AP": float(results["bbox"]["AP"]),
        "mIoU": float(results["sem_seg"]["mIoU"]),
        **fusion_scores,
        "seconds": round(time.time() - start, 1),
        "settings": settings.run_settings(),
    }
    save_result(out_dir, result)
    shutil.rmtree(work)
    logger.info(
        "%s: mAP@0.5 %.1f mAP %.1f mIoU %.1f in %.0f s",
        name,
        result["AP50"],
        result["AP"],
        result["mIoU"],
        result["seconds"],
    )
    return result
