"""Every OpenMMLab config in configs/mm: the runnable ones train two iterations and evaluate on
tiny synthetic data (sizes, workers and precision overridden, nothing else); the model-only ones
(task networks of the joint model and of the detectron2 segmentor) build."""

from __future__ import annotations

from pathlib import Path

import pytest
from mmengine.config import Config, ConfigDict
from mmengine.registry import init_default_scope
from mmengine.runner import Runner

import tsjnet_plugin.mm  # noqa: F401 (registers the plugin)

CONFIGS = Path(__file__).resolve().parents[2] / "configs" / "mm"
# Runnable: the configs that add TSJNet (task networks alone inherit stock dataloaders too).
RUNNABLE = sorted(
    p.name
    for p in CONFIGS.glob("*.py")
    if "tsjnet_plugin.mm" in Config.fromfile(str(p)).get("custom_imports", {}).get("imports", [])
)
MODEL_ONLY = sorted(p.name for p in CONFIGS.glob("*.py") if p.name not in RUNNABLE)
H, W = 64, 80


def _shrink_pipeline(pipeline: list) -> None:
    for step in pipeline:
        if step.get("type") == "Resize":
            step["scale"] = (W, H)
        _shrink_pipeline(step.get("transforms", []))


def _tiny(name: str, data_root: Path, work_dir: Path) -> Config:
    cfg = Config.fromfile(str(CONFIGS / name))
    fusion = (
        cfg.model.fusion
        if cfg.model.type == "TSJJointModel"
        else cfg.model.data_preprocessor.fusion
    )
    fusion.update(arch="tiny", checkpoint=None)
    for loader in ("train_dataloader", "val_dataloader", "test_dataloader"):
        cfg[loader].update(num_workers=0, persistent_workers=False)
        dataset = cfg[loader].dataset
        dataset.update(
            reader="synthetic",
            data_root=str(data_root),
            reader_args=dict(num_train=2, num_test=2, height=H, width=W),
        )
        _shrink_pipeline(dataset.pipeline)
    if cfg.model.type == "TSJJointModel":  # the MSRS config's 9 classes -> the synthetic 4
        for head in ("decode_head", "auxiliary_head"):
            cfg.model.segmentor.setdefault(head, ConfigDict())["num_classes"] = 4
    cfg.optim_wrapper.type = "OptimWrapper"  # AMP needs a GPU
    for amp_key in ("loss_scale", "dtype"):
        cfg.optim_wrapper.pop(amp_key, None)
    cfg.train_cfg.update(max_iters=2, val_interval=100)
    cfg.default_hooks.checkpoint.interval = 100
    cfg.default_hooks.logger.interval = 1
    cfg.work_dir = str(work_dir)
    return cfg


@pytest.fixture(scope="module")
def data_root(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("mm_configs") / "synthetic"


@pytest.mark.parametrize("name", RUNNABLE)
def test_every_runnable_mm_config_trains_and_evaluates(name, data_root, tmp_path):
    runner = Runner.from_cfg(_tiny(name, data_root, tmp_path))
    runner.train()
    assert runner.iter == 2
    metrics = runner.val()
    losses = set(runner.message_hub.log_scalars)
    assert {"fusion/EN", "fusion/Qabf"} <= set(metrics)
    if name.startswith(("joint_", "faster-rcnn", "fcos")):
        assert "pascal_voc/mAP" in metrics
    if name.startswith(("joint_", "deeplabv3plus")):
        assert any(key.endswith("mIoU") for key in metrics), metrics
    if name.startswith("joint_"):
        # TSJScheduleHook ran: alternate mode stepped detection at 0 and segmentation at 1.
        assert {"train/loss_det_rpn_cls", "train/loss_seg_decode_ce"} <= losses, losses
        assert "TSJScheduleHook" in {type(h).__name__ for h in runner.hooks}


@pytest.mark.parametrize("name", MODEL_ONLY)
def test_every_model_only_mm_config_builds(name):
    cfg = Config.fromfile(str(CONFIGS / name))
    scope = "mmdet" if name.startswith("det_") else "mmseg"
    init_default_scope(scope)
    registry = __import__(f"{scope}.registry", fromlist=["MODELS"]).MODELS
    model = registry.build(cfg.model)
    if scope == "mmdet":
        assert model.roi_head.bbox_head.num_classes == cfg.num_classes
    else:
        assert model.decode_head.num_classes == model.auxiliary_head.num_classes
        assert model.decode_head.num_classes == cfg.model.decode_head.num_classes
