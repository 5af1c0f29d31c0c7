"""The detectron2 and the mm adapters give the same numbers for the same model and pair: fused
image, fusion loss values (names included), fusion metrics and the task schedule."""

from __future__ import annotations

import math
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch
from detectron2.config import get_cfg
from mmengine.registry import MODELS, init_default_scope
from mmseg.structures import SegDataSample

import tsjnet_plugin.mm  # noqa: F401  (registers the plugin)
from tsjnet_plugin.d2 import FusionQualityEvaluator, TSJNetJointModel, add_tsjnet_config
from tsjnet_plugin.d2.trainer import build_schedule as build_d2_schedule
from tsjnet_plugin.fusion import FusionFrontEnd
from tsjnet_plugin.mm import TSJFusionMetric

CONFIGS = Path(__file__).resolve().parents[1] / "configs" / "mm"
HEIGHT, WIDTH = 48, 56
SEG_PREPROCESSOR = dict(type="SegDataPreProcessor", mean=[0.0] * 3, std=[1.0] * 3, size_divisor=8)


def _models() -> tuple[TSJNetJointModel, torch.nn.Module]:
    """A d2 joint model without task networks and an mm fusion preprocessor holding the same
    fusion weights."""
    d2 = TSJNetJointModel(fusion=FusionFrontEnd("tiny"))
    init_default_scope("mmseg")
    mm = MODELS.build(
        dict(type="TSJFusionPreprocessor", preprocessor=SEG_PREPROCESSOR, fusion=dict(arch="tiny"))
    )
    mm.front_end.load_state_dict(d2.fusion.state_dict())
    mm.collector_attached = True  # the losses are popped by hand below
    return d2, mm


def _pairs(count: int = 2) -> tuple[list[dict], dict]:
    """Pairs as each adapter receives them: d2 mapper outputs (uint8 RGB, IR in [0, 1]) and mm
    packed inputs ((B, G, R, IR) in [0, 255])."""
    generator = torch.Generator().manual_seed(5)
    d2_inputs, mm_inputs = [], []
    for index in range(count):
        vis = torch.randint(0, 256, (3, HEIGHT, WIDTH), dtype=torch.uint8, generator=generator)
        ir = torch.randint(0, 256, (1, HEIGHT, WIDTH), dtype=torch.uint8, generator=generator)
        d2_inputs.append({"image": vis, "ir": ir.float() / 255.0, "file_name": str(index)})
        mm_inputs.append(torch.cat([vis.flip(0), ir]).float())
    samples = [SegDataSample() for _ in range(count)]
    return d2_inputs, {"inputs": mm_inputs, "data_samples": samples}


def test_same_fused_image_and_fusion_losses_in_both_frameworks():
    d2, mm = _models()
    d2_inputs, mm_data = _pairs()

    d2.train(), mm.train()
    torch.manual_seed(0)
    d2_losses = d2(d2_inputs, tasks=())
    torch.manual_seed(0)
    mm(mm_data, training=True)
    mm_losses = mm.pop_fusion_losses()
    assert set(d2_losses) == set(mm_losses) and len(d2_losses) == 6
    assert all(k.startswith("loss_fusion_") for k in d2_losses)
    for name, value in d2_losses.items():
        torch.testing.assert_close(mm_losses[name], value, rtol=1e-5, atol=1e-6, msg=name)

    d2.eval(), mm.eval()
    with torch.no_grad():
        d2_outs = d2(d2_inputs)
        mm_samples = mm(mm_data, training=False)["data_samples"]
    for d2_out, sample in zip(d2_outs, mm_samples):
        torch.testing.assert_close(sample.pred_fusion.fused, d2_out["fused_y"], rtol=0, atol=1e-5)
        mm_rgb8 = (sample.pred_fusion.rgb * 255.0).round().to(torch.uint8)
        assert (mm_rgb8.int() - d2_out["fused"].int()).abs().max() <= 1
        assert d2_out["fused"].float().std() > 1  # a real image, not a constant


def test_both_fusion_evaluators_give_the_same_means():
    d2_inputs, mm_data = _pairs(3)
    generator = torch.Generator().manual_seed(2)
    fused = [torch.rand(1, HEIGHT, WIDTH, generator=generator) for _ in d2_inputs]
    fused[2] = torch.full((1, HEIGHT, WIDTH), 0.5)  # constant: CC is undefined (NaN)
    metrics = ("EN", "SD", "SSIM", "CC", "SCD", "MSE")

    d2_evaluator = FusionQualityEvaluator("pairs", metrics=metrics, distributed=False)
    d2_evaluator.reset()
    d2_evaluator.process(d2_inputs, [{"fused_y": y} for y in fused])
    d2_means = d2_evaluator.evaluate()["fusion"]

    mm_metric = TSJFusionMetric(metrics=metrics)
    samples = [dict(pred_fusion=dict(fused=y), img_shape=(HEIGHT, WIDTH)) for y in fused]
    mm_metric.process(mm_data, samples)
    mm_means = mm_metric.compute_metrics(mm_metric.results)

    assert math.isnan(mm_metric.results[2]["CC"])
    assert all(math.isfinite(value) for value in d2_means.values())
    assert mm_means == pytest.approx(d2_means, rel=1e-12)
    # the NaN of the constant image is left out of the mean, the finite values are kept
    expected_cc = (mm_metric.results[0]["CC"] + mm_metric.results[1]["CC"]) / 2
    assert d2_means["CC"] == pytest.approx(expected_cc)
    assert d2_means["EN"] == pytest.approx(sum(r["EN"] for r in mm_metric.results) / 3)


def test_both_frameworks_schedule_a_ratio_on_a_segmentation_only_model_alike():
    cfg = get_cfg()
    add_tsjnet_config(cfg)
    cfg.SCHEDULE.MODE, cfg.SCHEDULE.RATIO = "ratio", [2, 1]
    d2_schedule = build_d2_schedule(cfg, SimpleNamespace(tasks=("seg",)))
    init_default_scope("mmdet")
    mm_model = MODELS.build(
        dict(
            type="TSJJointModel",
            fusion=dict(arch="tiny"),
            segmentor=str(CONFIGS / "seg_deeplabv3plus_r18_pad32.py"),
            schedule=dict(mode="ratio", ratio=(2, 1)),
        )
    )
    assert mm_model.schedule == d2_schedule
    assert [d2_schedule.tasks_at(i) for i in range(3)] == [("seg",)] * 3
