"""The joint detectron2 model and trainer: schedule semantics, gradients, resume, DDP, errors."""

from __future__ import annotations

import copy
import functools
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from detectron2.config import get_cfg
from detectron2.data import DatasetCatalog, build_detection_train_loader
from detectron2.modeling import build_model
from detectron2.utils.events import EventStorage

from tsjnet_plugin.d2 import (
    PairDatasetMapper,
    TSJPredictor,
    TSJTrainer,
    add_tsjnet_config,
    register_pair_dataset,
)
from tsjnet_plugin.d2.trainer import ScheduledStepRunner
from tsjnet_plugin.data import read_msrs, write_synthetic_msrs
from tsjnet_plugin.fusion import ARCHS, build_model_from_checkpoint
from tsjnet_plugin.schedule import TaskSchedule

ROOT = Path(__file__).resolve().parents[2]
TRAIN, TEST = "tsj_unit_synthetic_train", "tsj_unit_synthetic_test"

# The README demo config, shrunk further for unit tests.
TINY = [
    "MODEL.TSJNET.ARCH", "tiny",
    "MODEL.TSJNET.WEIGHTS", "",
    "MODEL.ROI_HEADS.BATCH_SIZE_PER_IMAGE", "32",
    "MODEL.RPN.BATCH_SIZE_PER_IMAGE", "64",
    "MODEL.FPN.OUT_CHANNELS", "32",
    "DATASETS.TRAIN", f"('{TRAIN}',)",
    "DATASETS.TEST", f"('{TEST}',)",
    "DATALOADER.NUM_WORKERS", "0",
    "SOLVER.IMS_PER_BATCH", "2",
    "SOLVER.WARMUP_ITERS", "0",
]  # fmt: skip


@pytest.fixture(scope="session")
def synthetic_root(tmp_path_factory) -> Path:
    root = write_synthetic_msrs(tmp_path_factory.mktemp("synthetic"), 4, 2, 64, 80, seed=3)
    for name, split in ((TRAIN, "train"), (TEST, "test")):
        register_pair_dataset(name, functools.partial(read_msrs, root, split, name=name))
    return root


def make_cfg(synthetic_root, tmp_path, config="configs/tsj_faster_rcnn_demo_cpu.yaml", *opts):
    cfg = get_cfg()
    add_tsjnet_config(cfg)
    cfg.merge_from_file(str(ROOT / config))
    cfg.merge_from_list(["MODEL.DEVICE", "cpu", "OUTPUT_DIR", str(tmp_path), *TINY, *opts])
    return cfg


def first_batch(cfg):
    return next(iter(build_detection_train_loader(cfg, mapper=PairDatasetMapper(cfg, True))))


def snapshot(module: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in module.named_parameters() if v.requires_grad}


def changed(before: dict, module: torch.nn.Module) -> bool:
    return any(not torch.equal(before[k], v) for k, v in module.named_parameters() if k in before)


def runner_for(cfg, model, batch, mode="alternate", ratio=()):
    optimizer = TSJTrainer.build_optimizer(cfg, model)
    schedule = TaskSchedule(mode, model.tasks, ratio)
    return ScheduledStepRunner(model, [batch] * 100, optimizer, schedule)


def run_steps(runner, iterations):
    with EventStorage(0) as storage:
        for i in iterations:
            runner.iter = storage.iter = i
            runner.run_step()


def test_alternate_updates_trunk_every_step_and_each_task_only_on_its_own(synthetic_root, tmp_path):
    cfg = make_cfg(synthetic_root, tmp_path)
    model = build_model(cfg).train()
    runner = runner_for(cfg, model, first_batch(cfg))
    parts = {"fusion": model.fusion, "detector": model.detector, "segmentor": model.segmentor}
    expected = {0: {"fusion", "detector"}, 1: {"fusion", "segmentor"}}
    for iteration, should_change in expected.items():
        before = {name: snapshot(m) for name, m in parts.items()}
        run_steps(runner, [iteration])
        did_change = {name for name, m in parts.items() if changed(before[name], m)}
        assert did_change == should_change, iteration


def test_task_loss_alone_reaches_the_fusion_trunk(synthetic_root, tmp_path):
    cfg = make_cfg(
        synthetic_root,
        tmp_path,
        "configs/tsj_faster_rcnn_demo_cpu.yaml",
        "MODEL.TSJNET.FUSION_LOSS.WEIGHT",
        "0.0",
    )
    model = build_model(cfg).train()
    batch = first_batch(cfg)
    for task in ("det", "seg"):
        model.zero_grad()
        with EventStorage(0):
            losses = model(batch, tasks=(task,))
        assert not any(k.startswith("loss_fusion") for k in losses)  # weight 0: none computed
        sum(losses.values()).backward()
        grad = model.fusion.net.encoder.patch_embed.proj.weight.grad
        assert grad is not None and grad.abs().sum() > 0, task


def test_a_joint_model_without_task_networks_trains_on_the_fusion_loss_alone(
    synthetic_root, tmp_path
):
    cfg = make_cfg(
        synthetic_root,
        tmp_path,
        "configs/tsj_faster_rcnn_demo_cpu.yaml",
        "MODEL.TSJNET.DETECTOR.META_ARCHITECTURE", "",
        "MODEL.TSJNET.SEGMENTOR.TYPE", "",
        "SOLVER.MAX_ITER", "2",
        "DATASETS.TEST", "()",
    )  # fmt: skip
    trainer = TSJTrainer(cfg)
    model = trainer.model
    assert model.tasks == () and trainer._trainer.schedule.tasks_at(1) == ()
    before = snapshot(model.fusion)
    trainer.train()
    assert changed(before, model.fusion)
    logged = trainer.storage.histories()
    assert any(k.startswith("loss_fusion_") for k in logged)
    assert not any(k.startswith(("loss_det", "loss_seg")) for k in logged)
    assert TSJTrainer.build_task_evaluators(cfg, TEST, str(tmp_path)) == []  # fusion metrics only


def test_sum_mode_equals_one_backward_of_the_summed_losses(synthetic_root, tmp_path):
    cfg = make_cfg(synthetic_root, tmp_path)
    model = build_model(cfg).train()
    batch = first_batch(cfg)
    twin = copy.deepcopy(model)
    torch.manual_seed(7)
    run_steps(runner_for(cfg, model, batch, mode="sum"), [0])

    optimizer = TSJTrainer.build_optimizer(cfg, twin)
    torch.manual_seed(7)
    with EventStorage(0):
        losses = twin(batch, tasks=("det", "seg"))
    assert {"loss_det_cls", "loss_seg_decode_ce", "loss_fusion_int"} <= set(losses)
    optimizer.zero_grad()
    sum(losses.values()).backward()
    optimizer.step()
    for (name, a), b in zip(model.named_parameters(), twin.parameters()):
        torch.testing.assert_close(a, b, msg=name)


def test_ratio_mode_steps_tasks_in_proportion(synthetic_root, tmp_path):
    cfg = make_cfg(synthetic_root, tmp_path)
    model = build_model(cfg).train()
    runner = runner_for(cfg, model, first_batch(cfg), mode="ratio", ratio=(2, 1))
    seg_before = snapshot(model.segmentor)
    run_steps(runner, [0, 1])
    assert not changed(seg_before, model.segmentor)
    run_steps(runner, [2])
    assert changed(seg_before, model.segmentor)


def test_non_finite_loss_skips_the_step_then_stops(synthetic_root, tmp_path):
    cfg = make_cfg(synthetic_root, tmp_path)
    model = build_model(cfg).train()
    batch = first_batch(cfg)
    batch[0]["ir"] = torch.full(batch[0]["ir"].shape, float("nan"))
    runner = runner_for(cfg, model, batch)
    runner.max_nan_steps = 2
    before = snapshot(model)
    run_steps(runner, [0])
    assert runner.nan_steps == 1 and not changed(before, model)
    with pytest.raises(FloatingPointError, match="2 non-finite losses in a row"):
        run_steps(runner, [1])


def test_train_eval_and_resume_from_the_same_iteration_and_task(synthetic_root, tmp_path):
    opts = ["SOLVER.MAX_ITER", "2", "SOLVER.CHECKPOINT_PERIOD", "1", "TEST.EVAL_PERIOD", "2"]
    trainer = TSJTrainer(
        make_cfg(synthetic_root, tmp_path, "configs/tsj_faster_rcnn_demo_cpu.yaml", *opts)
    )
    trainer.resume_or_load(resume=False)
    trainer.train()
    results = trainer.storage.latest()
    assert {"bbox/AP", "sem_seg/mIoU", "fusion/EN"} <= set(results)
    assert (tmp_path / "model_final.pth").is_file() and (tmp_path / "metrics.json").is_file()
    assert not list(tmp_path.glob("*.tmp"))
    saved_step = trainer.optimizer.state_dict()["state"][0]["step"]
    # tools/fuse.py takes model_final.pth: the fusion sub-model and its arch are extracted.
    fusion = build_model_from_checkpoint(tmp_path / "model_final.pth")
    assert fusion.cfg == ARCHS["tiny"]
    trained = trainer.model.fusion.net.state_dict()
    assert all(torch.equal(v, trained[k]) for k, v in fusion.state_dict().items())
    pair = [str(synthetic_root / "test" / sub / "00000.png") for sub in ("ir", "vi")]
    cmd = [sys.executable, "tools/fuse.py", "--ir", pair[0], "--vis", pair[1]]
    cmd += ["--checkpoint", str(tmp_path / "model_final.pth"), "--out", str(tmp_path / "fused")]
    fused = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert fused.returncode == 0, fused.stderr
    assert (tmp_path / "fused" / "color" / "00000.png").is_file()

    opts = ["SOLVER.MAX_ITER", "3", "TEST.EVAL_PERIOD", "0"]
    resumed = TSJTrainer(
        make_cfg(synthetic_root, tmp_path, "configs/tsj_faster_rcnn_demo_cpu.yaml", *opts)
    )
    resumed.resume_or_load(resume=True)
    assert resumed.start_iter == 2
    assert resumed.optimizer.state_dict()["state"][0]["step"] == saved_step
    assert resumed._trainer.schedule.tasks_at(resumed.start_iter) == ("det",)
    seen = []
    resumed._trainer.model.register_forward_pre_hook(
        lambda m, args, kwargs: seen.append(kwargs.get("tasks")), with_kwargs=True
    )
    resumed.train()
    assert seen[0] == ("det",)  # one training step (iteration 2), then the final evaluation
    assert all(tasks is None for tasks in seen[1:])


@pytest.mark.parametrize("config", ["configs/tsj_retinanet.yaml", "configs/tsj_cascade_rcnn.yaml"])
def test_other_detectors_are_a_config_change(synthetic_root, tmp_path, config):
    demo = [
        "MODEL.TSJNET.ARCH",
        "tiny",
        "MODEL.RESNETS.DEPTH",
        "18",
        "MODEL.RESNETS.RES2_OUT_CHANNELS",
        "64",
    ]
    cfg = make_cfg(synthetic_root, tmp_path, config, *demo)
    model = build_model(cfg).train()
    runner = runner_for(cfg, model, first_batch(cfg))
    before = snapshot(model.detector)
    run_steps(runner, [0])
    assert changed(before, model.detector)


def test_relative_config_paths_do_not_depend_on_the_working_directory(
    synthetic_root, tmp_path, monkeypatch
):
    cfg = make_cfg(synthetic_root, tmp_path)
    assert not Path(cfg.MODEL.TSJNET.SEGMENTOR.CONFIG).is_absolute()
    monkeypatch.chdir(tmp_path)  # no configs/ here
    assert build_model(cfg).segmentor.num_classes == 4


def test_class_counts_are_checked_without_loading_the_dataset(synthetic_root, tmp_path):
    name, loads = "tsj_unit_lazy_classes", []

    def loader():
        loads.append(name)
        return read_msrs(synthetic_root, "train", name=name)

    register_pair_dataset(name, loader)
    cfg = make_cfg(synthetic_root, tmp_path, "configs/tsj_faster_rcnn_demo_cpu.yaml")
    cfg.merge_from_list(["MODEL.ROI_HEADS.NUM_CLASSES", "5", "DATASETS.TRAIN", f"('{name}',)"])
    build_model(cfg)  # the classes are not known yet: nothing is read to check them
    assert not loads
    with pytest.raises(ValueError, match="has 3 detection classes"):
        TSJTrainer(cfg)  # its train loader loads the dataset, then the counts are checked
    assert loads == [name]


def test_configuration_errors_are_clear(synthetic_root, tmp_path):
    cfg = make_cfg(
        synthetic_root,
        tmp_path,
        "configs/tsj_faster_rcnn_demo_cpu.yaml",
        "MODEL.TSJNET.DETECTOR.META_ARCHITECTURE",
        "FasterRCNN",
    )
    with pytest.raises(ValueError, match="'FasterRCNN' is not a detectron2 meta-architecture"):
        build_model(cfg)
    cfg = make_cfg(
        synthetic_root,
        tmp_path,
        "configs/tsj_faster_rcnn_demo_cpu.yaml",
        "MODEL.ROI_HEADS.NUM_CLASSES",
        "5",
    )
    DatasetCatalog.get(TRAIN)  # loading sets the class names the model is checked against
    with pytest.raises(ValueError, match="has 3 detection classes"):
        build_model(cfg)
    cfg = make_cfg(
        synthetic_root,
        tmp_path,
        "configs/tsj_faster_rcnn_demo_cpu.yaml",
        "MODEL.TSJNET.SEGMENTOR.TYPE",
        "unet",
    )
    with pytest.raises(ValueError, match=r"SEGMENTOR\.TYPE must be"):
        build_model(cfg)
    cfg = make_cfg(
        synthetic_root,
        tmp_path,
        "configs/tsj_faster_rcnn_demo_cpu.yaml",
        "MODEL.TSJNET.WEIGHTS",
        str(tmp_path / "missing.pth"),
    )
    with pytest.raises(FileNotFoundError, match=r"missing\.pth"):
        build_model(cfg)
    with pytest.raises(AssertionError, match=r"Non-existent key: MODEL\.TSJNET\.NOPE"):
        make_cfg(
            synthetic_root,
            tmp_path,
            "configs/tsj_faster_rcnn_demo_cpu.yaml",
            "MODEL.TSJNET.NOPE",
            "1",
        )


def test_two_process_gloo_training_completes(tmp_path):
    """tools/train_net.py --num-gpus 2 on a CPU machine: two gloo processes, DDP, evaluation."""
    # No visible GPU: detectron2's launcher would otherwise pick NCCL and one GPU per process.
    env = {**os.environ, "TSJNET_DATASETS": str(tmp_path / "datasets"), "CUDA_VISIBLE_DEVICES": ""}
    cmd = [
        sys.executable,
        "tools/train_net.py",
        "--config-file",
        "configs/tsj_faster_rcnn_demo_cpu.yaml",
    ]
    cmd += ["--num-gpus", "2", "--dist-url", "tcp://127.0.0.1:29561"]
    cmd += [
        "SOLVER.MAX_ITER",
        "2",
        "SOLVER.IMS_PER_BATCH",
        "4",
        "OUTPUT_DIR",
        str(tmp_path / "out"),
    ]
    result = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stderr[-3000:]
    log = (tmp_path / "out" / "log.txt").read_text()
    assert "Total training time" in log and "World size: 2" in log
    assert "copypaste: Task: fusion" in log
    assert (tmp_path / "out" / "model_final.pth").is_file()

    cmd = [
        sys.executable,
        "tools/train_net.py",
        "--config-file",
        "configs/tsj_faster_rcnn_demo_cpu.yaml",
    ]
    cmd += ["--eval-only", "MODEL.WEIGHTS", str(tmp_path / "out" / "model_final.pth")]
    cmd += ["OUTPUT_DIR", str(tmp_path / "eval")]
    result = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    log = (tmp_path / "eval" / "log.txt").read_text()
    assert "copypaste: Task: bbox" in log and "copypaste: Task: fusion" in log


@pytest.mark.parametrize("config", sorted(p.name for p in (ROOT / "configs").glob("tsj_*.yaml")))
def test_every_config_file_loads(config):
    cfg = get_cfg()
    add_tsjnet_config(cfg)
    cfg.merge_from_file(str(ROOT / "configs" / config))
    assert cfg.MODEL.META_ARCHITECTURE == "TSJNetJointModel"
    seg_config = cfg.MODEL.TSJNET.SEGMENTOR.CONFIG
    assert cfg.MODEL.TSJNET.SEGMENTOR.TYPE == "" or (ROOT / seg_config).is_file()


def test_predictor_returns_everything_at_the_original_size(synthetic_root, tmp_path):
    cfg = make_cfg(
        synthetic_root,
        tmp_path,
        "configs/tsj_faster_rcnn_demo_cpu.yaml",
        "INPUT.MIN_SIZE_TEST",
        "96",
    )
    predictor = TSJPredictor(cfg)
    ir = next((synthetic_root / "test" / "ir").iterdir())
    out = predictor(ir, synthetic_root / "test" / "vi" / ir.name)
    assert out["fused"].shape == (64, 80, 3) and out["fused"].dtype.name == "uint8"
    assert out["fused_gray"].shape == (64, 80)
    assert tuple(out["sem_seg"].shape) == (64, 80)
    assert out["instances"].image_size == (64, 80)


def test_frozen_parts_stay_in_eval_mode(synthetic_root, tmp_path):
    cfg = make_cfg(
        synthetic_root,
        tmp_path,
        "configs/tsj_faster_rcnn_demo_cpu.yaml",
        "MODEL.TSJNET.FREEZE",
        "True",
    )
    model = build_model(cfg).train()
    assert not model.fusion.training and model.detector.training and model.segmentor.training
    assert all(not p.requires_grad for p in model.fusion.parameters())
    optimizer = TSJTrainer.build_optimizer(cfg, model)
    assert {g["name"] for g in optimizer.param_groups} == {"detector", "segmentor"}


@pytest.mark.parametrize(("dtype", "scaled"), [("float16", True), ("bfloat16", False)])
def test_amp_dtype_reaches_the_step_runner_and_bf16_has_no_grad_scaler(
    synthetic_root, tmp_path, monkeypatch, dtype, scaled
):
    opts = ["SOLVER.AMP.ENABLED", "True", "SOLVER.AMP.DTYPE", dtype, "MODEL.TSJNET.WITH_CP", "True"]
    cfg = make_cfg(synthetic_root, tmp_path, "configs/tsj_faster_rcnn_demo_cpu.yaml", *opts)
    trainer = TSJTrainer(cfg)
    assert trainer._trainer.amp_dtype == getattr(torch, dtype)
    assert trainer._trainer.amp == torch.cuda.is_available()  # AMP is CUDA-only
    assert trainer.model.fusion.net.cfg.with_cp
    # Where CUDA is (pretended here, to construct the runner only), bf16 runs without a scaler.
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    runner = ScheduledStepRunner(
        trainer.model, [], trainer.optimizer, trainer._trainer.schedule, True, 5, dtype
    )
    assert runner.amp and runner.grad_scaler.is_enabled() == scaled


def test_unknown_amp_dtype_is_a_clear_error(synthetic_root, tmp_path):
    cfg = make_cfg(synthetic_root, tmp_path, "configs/tsj_faster_rcnn_demo_cpu.yaml")
    model = build_model(cfg)
    optimizer = TSJTrainer.build_optimizer(cfg, model)
    schedule = TaskSchedule("alternate", model.tasks)
    with pytest.raises(ValueError, match=r"SOLVER\.AMP\.DTYPE must be one of .* got 'fp8'"):
        ScheduledStepRunner(model, [], optimizer, schedule, amp=True, amp_dtype="fp8")
