"""Bad input fails early and says what to change."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from mmengine.config import Config
from mmengine.registry import MODELS, DefaultScope, init_default_scope
from mmengine.runner import Runner
from mmseg.structures import SegDataSample

import tsjnet_plugin.mm  # noqa: F401  (registers the plugin)

CONFIGS = Path(__file__).resolve().parents[2] / "configs" / "mm"
JOINT = CONFIGS / "joint_faster-rcnn_deeplabv3plus_r18_tsj-fast_alternate_synthetic-96x128.py"
SEG_PREPROCESSOR = dict(
    type="SegDataPreProcessor",
    mean=[123.675, 116.28, 103.53],
    std=[58.395, 57.12, 57.375],
    bgr_to_rgb=True,
    size_divisor=32,
)


def _fusion_preprocessor(**fusion):
    init_default_scope("mmseg")
    return MODELS.build(
        dict(
            type="TSJFusionPreprocessor",
            preprocessor=SEG_PREPROCESSOR,
            fusion=dict(arch="tiny", **fusion),
        )
    )


def test_mm_preprocessor_rejects_single_modality_inputs_at_first_batch():
    preprocessor = _fusion_preprocessor()
    data = dict(inputs=[torch.rand(3, 64, 80) * 255], data_samples=[SegDataSample()])
    with pytest.raises(ValueError, match=r"\[4, H, W\].*got \(3, 64, 80\).*LoadIRVisPair"):
        preprocessor(data, training=False)


def test_mm_preprocessor_refuses_to_drop_the_fusion_loss():
    preprocessor = _fusion_preprocessor()
    data = dict(inputs=[torch.rand(4, 64, 80) * 255] * 2, data_samples=[SegDataSample()] * 2)
    with pytest.raises(RuntimeError, match="TSJFusionLossHook"):
        preprocessor(data, training=True)
    _fusion_preprocessor(loss_weight=0.0)(data, training=True)  # task loss only: no hook needed


def test_mm_backbone_wrapping_an_unknown_backbone_fails_at_build():
    with DefaultScope.overwrite_default_scope("mmseg"):
        with pytest.raises(KeyError, match=r"backbone.type='NoSuchNet'.*'mmseg'"):
            MODELS.build(
                dict(
                    type="TSJFusionBackbone",
                    backbone=dict(type="NoSuchNet"),
                    fusion=dict(arch="tiny"),
                )
            )


def test_mm_joint_segmentor_class_count_must_match_the_dataset(tmp_path):
    cfg = Config.fromfile(str(JOINT))
    cfg.model.segmentor.update(decode_head=dict(num_classes=5), auxiliary_head=dict(num_classes=5))
    cfg.merge_from_dict(
        {
            "train_dataloader.dataset.data_root": str(tmp_path / "synthetic"),
            "train_dataloader.dataset.reader_args": dict(
                num_train=2, num_test=0, height=64, width=80
            ),
            "val_dataloader": None,
            "val_cfg": None,
            "val_evaluator": None,
            "test_dataloader": None,
            "test_cfg": None,
            "test_evaluator": None,
            "work_dir": str(tmp_path / "work"),
        }
    )
    runner = Runner.from_cfg(cfg)
    with pytest.raises(ValueError, match=r"decode_head.num_classes=5 .* 4 seg classes"):
        runner.train()
    assert runner.iter == 0


def test_mm_joint_model_needs_the_iteration():
    init_default_scope("mmdet")
    model = MODELS.build(
        dict(
            type="TSJJointModel",
            fusion=dict(arch="tiny"),
            segmentor=dict(config=str(CONFIGS / "seg_deeplabv3plus_r18_pad32.py")),
        )
    )
    with pytest.raises(RuntimeError, match="TSJScheduleHook"):
        model.loss(torch.rand(2, 4, 64, 80), [])
    with pytest.raises(FileNotFoundError, match=r"no_such\.py"):
        MODELS.build(dict(type="TSJJointModel", detector=str(CONFIGS / "no_such.py")))
