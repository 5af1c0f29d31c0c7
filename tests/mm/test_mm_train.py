"""Stock mmseg DeepLabV3+ and mmdet Faster R-CNN configs, changed only by the docs/mm.md snippet,
train with the fusion preprocessor: task and fusion loss reach the fusion trunk."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import torch
from mmengine.config import Config
from mmengine.runner import Runner

REPO = Path(__file__).resolve().parents[2]
SNIPPET = re.compile(r"<!-- snippet: add-tsjnet -->\s*```python\n(.*?)```", re.S)
STOCK = {
    "seg": "mmseg::deeplabv3plus/deeplabv3plus_r18-d8_4xb2-80k_cityscapes-512x1024.py",
    "det": "mmdet::faster_rcnn/faster-rcnn_r50_fpn_1x_coco.py",
}
HEIGHT, WIDTH = 64, 80
ITERS = 2

# Test-only changes in a child config: tiny synthetic data, ResNet-18, no hub weights, 2 iterations.
_COMMON = f"""
dataset = dict(type="TSJPairDataset", reader="synthetic", data_root="{{root}}",
               reader_args=dict(num_train=4, num_test=0, height={HEIGHT}, width={WIDTH}))
train_dataloader = dict(batch_size=2, num_workers=0, persistent_workers=False,
                        sampler=dict(type="InfiniteSampler", shuffle=False), batch_sampler=None,
                        dataset=dict(_delete_=True, split="train", pipeline=pipeline, **dataset))
val_dataloader = val_cfg = val_evaluator = None
test_dataloader = test_cfg = test_evaluator = None
train_cfg = dict(_delete_=True, type="IterBasedTrainLoop", max_iters={ITERS})
param_scheduler = []
default_hooks = dict(checkpoint=dict(by_epoch=False, interval=1000), logger=dict(interval=1))
log_processor = dict(by_epoch=False)
work_dir = "{{work_dir}}"
"""
_TEST_CHANGES = {
    "seg": """
_base_ = "./with_tsjnet.py"
norm_cfg = dict(type="BN", requires_grad=True)
model = dict(pretrained=None, backbone=dict(norm_cfg=norm_cfg),
             decode_head=dict(num_classes=4, norm_cfg=norm_cfg),
             auxiliary_head=dict(num_classes=4, norm_cfg=norm_cfg),
             data_preprocessor=dict(preprocessor=dict(size=(64, 80))))
pipeline = [dict(type="LoadIRVisPair"), dict(type="LoadPairSegLabel"), dict(type="PackSegInputs")]
""",
    "det": """
_base_ = "./with_tsjnet.py"
model = dict(backbone=dict(depth=18, init_cfg=None), neck=dict(in_channels=[64, 128, 256, 512]),
             roi_head=dict(bbox_head=dict(num_classes=3)))
pipeline = [dict(type="LoadIRVisPair"), dict(type="LoadAnnotations", with_bbox=True),
            dict(type="PackDetInputs")]
""",
}


def doc_snippet() -> str:
    """The "Add TSJNet to your mmseg/mmdet config" block of docs/mm.md."""
    match = SNIPPET.search((REPO / "docs" / "mm.md").read_text())
    assert match, "docs/mm.md lost its add-tsjnet snippet"
    return match.group(1)


def test_mm_snippet_matches_example_configs():
    snippet = doc_snippet()
    for name in (
        "deeplabv3plus_r18-d8_tsj-fast_synthetic-96x128.py",
        "faster-rcnn_r18_fpn_tsj-fast_synthetic-96x128.py",
    ):
        assert snippet in (REPO / "configs" / "mm" / name).read_text(), name


@pytest.fixture(scope="module")
def data_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("mm_train") / "synthetic"


def _config(task: str, data_root: Path, tmp_path: Path) -> Config:
    """Stock config + the doc snippet (with_tsjnet.py), and a test child with tiny data."""
    (tmp_path / "with_tsjnet.py").write_text(f"_base_ = {STOCK[task]!r}\n{doc_snippet()}")
    child = _TEST_CHANGES[task] + _COMMON.format(root=data_root, work_dir=tmp_path / "work")
    (tmp_path / "test.py").write_text(child)
    return Config.fromfile(str(tmp_path / "test.py"))


@pytest.mark.parametrize("task", ["seg", "det"])
def test_mm_stock_config_with_snippet_trains_fusion_trunk(task, data_root, tmp_path):
    runner = Runner.from_cfg(_config(task, data_root, tmp_path))
    preprocessor = runner.model.data_preprocessor
    assert type(preprocessor).__name__ == "TSJFusionPreprocessor"
    trainable = {n: p for n, p in preprocessor.front_end.named_parameters() if p.requires_grad}
    before = {n: p.detach().clone() for n, p in trainable.items()}
    runner.train()
    unchanged = [n for n, p in trainable.items() if torch.equal(p, before[n])]
    assert not unchanged, f"fusion parameters not updated: {unchanged}"
    logged = runner.message_hub.log_scalars
    assert "train/loss_fusion_int" in logged and "train/loss_fusion_rec_ir" in logged
    task_loss = "train/decode.loss_ce" if task == "seg" else "train/loss_rpn_cls"
    assert task_loss in logged
    assert runner.iter == ITERS
