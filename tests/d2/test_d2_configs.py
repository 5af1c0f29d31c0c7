"""Every detectron2 config in configs/ builds its model as configured (official arch included),
and the real-dataset configs train and test on distinct splits."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from detectron2.config import get_cfg
from detectron2.modeling import build_model

from tsjnet_plugin.d2 import add_tsjnet_config
from tsjnet_plugin.d2.data import _BUILTIN
from tsjnet_plugin.fusion import ARCHS

ROOT = Path(__file__).resolve().parents[2]
CONFIGS = sorted(p.name for p in (ROOT / "configs").glob("*.yaml"))


def _cfg(name: str):
    cfg = get_cfg()
    add_tsjnet_config(cfg)
    cfg.merge_from_file(str(ROOT / "configs" / name))
    cfg.MODEL.DEVICE = "cpu"
    cfg.MODEL.TSJNET.SEGMENTOR.CONFIG = str(ROOT / cfg.MODEL.TSJNET.SEGMENTOR.CONFIG)
    return cfg


@pytest.mark.parametrize("name", CONFIGS)
def test_every_config_builds_its_model(name):
    cfg = _cfg(name)
    model = build_model(cfg)
    tsj = cfg.MODEL.TSJNET
    assert type(model).__name__ == "TSJNetJointModel"
    assert model.fusion.net.cfg == ARCHS[tsj.ARCH]
    assert type(model.detector).__name__ == tsj.DETECTOR.META_ARCHITECTURE
    if tsj.DETECTOR.META_ARCHITECTURE == "GeneralizedRCNN":
        predictors = model.detector.roi_heads.box_predictor
        if not isinstance(predictors, torch.nn.ModuleList):  # one head; Cascade R-CNN has three
            predictors = [predictors]
        for predictor in predictors:  # classes + background
            assert predictor.cls_score.out_features == cfg.MODEL.ROI_HEADS.NUM_CLASSES + 1
    else:
        assert model.detector.num_classes == cfg.MODEL.RETINANET.NUM_CLASSES
    if model.segmentor is not None:
        heads = (model.segmentor.model.decode_head, model.segmentor.model.auxiliary_head)
        assert len({head.num_classes for head in heads}) == 1
    assert (model.segmentor is None) == (tsj.SEGMENTOR.TYPE == "")
    assert model.tasks == tuple(
        task for task, on in (("det", True), ("seg", tsj.SEGMENTOR.TYPE != "")) if on
    )
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    assert trainable > sum(p.numel() for p in model.fusion.parameters()) > 0


@pytest.mark.parametrize(
    ("name", "train", "test"),
    [
        ("tsj_faster_rcnn_msrs.yaml", "msrs_train", "msrs_test"),
        ("tsj_faster_rcnn_m3fd.yaml", "m3fd_train", "m3fd_test"),
        ("tsj_faster_rcnn_llvip.yaml", "llvip_train", "llvip_test"),
    ],
)
def test_dataset_configs_train_and_test_on_distinct_splits(name, train, test):
    cfg = _cfg(name)
    assert cfg.DATASETS.TRAIN == (train,) and cfg.DATASETS.TEST == (test,)
    reader, folder, train_split = _BUILTIN[train]
    assert _BUILTIN[test] == (reader, folder, "test") and train_split == "train"
