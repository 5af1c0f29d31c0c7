"""Stock mmseg SegFormer-B0 and mmdet YOLOX-tiny configs (from the installed packages) with the
docs/mm.md snippet and the paired-data `_base_` file: they train and evaluate on the synthetic
pairs, the fusion trunk is updated, and stock paramwise rules leave the fusion parameters alone.
Also the 4-channel checks of the data side."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.registry import TRANSFORMS, init_default_scope
from mmengine.runner import Runner

import tsjnet_plugin.mm  # noqa: F401  (registers the transforms and the dataset)
from tsjnet_plugin.mm import TSJPairDataset
from tsjnet_plugin.mm.preprocessor import check_unit_pair_batch

REPO = Path(__file__).resolve().parents[2]
BASES = REPO / "configs" / "mm" / "_base_" / "datasets"
STOCK = {
    "seg": ("mmseg::segformer/segformer_mit-b0_8xb2-160k_ade20k-512x512.py", "tsj_pairs_seg.py"),
    "det": ("mmdet::yolox/yolox_tiny_8xb8-300e_coco.py", "tsj_pairs_det.py"),
}
HEIGHT, WIDTH = 64, 80


def doc_block(name: str) -> str:
    match = re.search(
        rf"<!-- snippet: {name} -->\s*```python\n(.*?)```",
        (REPO / "docs" / "mm.md").read_text(),
        re.S,
    )
    assert match, f"docs/mm.md lost its {name} snippet"
    return match.group(1)


# Test-only changes: the synthetic pairs at 64x80, small batches, a few iterations, no hub weights.
_DATA = """
_synthetic = dict(reader="synthetic", data_root="{root}",
                  reader_args=dict(num_train=4, num_test=2, height={h}, width={w}))
train_dataloader = dict(batch_size=2, num_workers=0, persistent_workers=False, dataset=_synthetic)
val_dataloader = dict(num_workers=0, persistent_workers=False, dataset=_synthetic)
test_dataloader = val_dataloader
work_dir = "{work_dir}"
"""
_TEST_CHANGES = {
    "seg": """
model = dict(backbone=dict(init_cfg=None), decode_head=dict(num_classes=4),
             data_preprocessor=dict(preprocessor=dict(size=({h}, {w}))))
train_cfg = dict(max_iters=2, val_interval=100)  # evaluated by runner.test()
param_scheduler = []
""",
    "det": """
model = dict(bbox_head=dict(num_classes=3), test_cfg=dict(score_thr=0.0),  # untrained: keep all
             data_preprocessor=dict(preprocessor=dict(batch_augments=None)))
train_cfg = dict(max_epochs=2, val_interval=100)  # evaluated by runner.test()
""",
}


def write_config(task: str, root: Path, tmp_path: Path) -> Config:
    """with_tsjnet.py: the stock config, the snippet, the data `_base_` and its lines (+ YOLOX's
    own hooks kept, as the docs say); test.py: the test-only changes on top of it."""
    stock, data = STOCK[task]
    text = f"_base_ = [{stock!r}, {str(BASES / data)!r}]\n{doc_block('add-tsjnet')}"
    if task == "det":
        text += 'custom_hooks = [*_base_.custom_hooks, dict(type="TSJFusionLossHook")]\n'
    (tmp_path / "with_tsjnet.py").write_text(text + doc_block("add-tsjnet-data"))
    child = '_base_ = "./with_tsjnet.py"\n' + _TEST_CHANGES[task].format(h=HEIGHT, w=WIDTH)
    child += _DATA.format(root=root, h=HEIGHT, w=WIDTH, work_dir=tmp_path / "work")
    (tmp_path / "test.py").write_text(child)
    return Config.fromfile(str(tmp_path / "test.py"))


@pytest.fixture(scope="module")
def root(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("stock_data") / "synthetic"


def fusion_params(runner: Runner) -> dict[str, torch.Tensor]:
    net = runner.model.data_preprocessor.front_end.net
    return {n: p for n, p in net.named_parameters() if p.requires_grad}


@pytest.mark.parametrize("task", ["seg", "det"])
def test_stock_config_with_the_data_base_trains_and_evaluates(task, root, tmp_path):
    cfg = write_config(task, root, tmp_path)
    runner = Runner.from_cfg(cfg)
    params = fusion_params(runner)
    before = {n: p.detach().clone() for n, p in params.items()}
    runner.train()
    unchanged = [n for n, p in params.items() if torch.equal(p, before[n])]
    assert not unchanged, f"fusion parameters not updated: {unchanged[:5]}"
    logged = runner.message_hub.log_scalars
    assert "train/loss_fusion_int" in logged
    assert ("train/decode.loss_ce" if task == "seg" else "train/loss_cls") in logged
    metrics = runner.test()
    expected = "mIoU" if task == "seg" else "coco/bbox_mAP"
    assert expected in metrics and "fusion/EN" in metrics, sorted(metrics)
    if task == "det":  # YOLOXModeSwitchHook ran on TSJPairDataset and switched to the L1 loss
        assert runner.model.bbox_head.use_l1


def test_fusion_parameters_escape_stock_paramwise_rules(root, tmp_path):
    cfg = write_config("seg", root, tmp_path)  # SegFormer: "norm" no decay, "head" 10x LR
    runner = Runner.from_cfg(cfg)
    assert any("norm" in n for n in fusion_params(runner))
    optimizer = runner.build_optim_wrapper(cfg.optim_wrapper).optimizer
    base_lr, base_wd = optimizer.defaults["lr"], optimizer.defaults["weight_decay"]
    ids = {id(p) for p in fusion_params(runner).values()}
    groups = [g for g in optimizer.param_groups if any(id(p) in ids for p in g["params"])]
    assert groups and all(g["lr"] == base_lr and g["weight_decay"] == base_wd for g in groups)
    # Without the entry the stock rules would reach them (so the check above can fail).
    del cfg.optim_wrapper.paramwise_cfg.custom_keys["front_end.net."]
    optimizer = runner.build_optim_wrapper(cfg.optim_wrapper).optimizer
    groups = [g for g in optimizer.param_groups if any(id(p) in ids for p in g["params"])]
    assert any(g["lr"] != base_lr or g["weight_decay"] != base_wd for g in groups)


def test_apply_to_visible_clips_to_the_pixel_range():
    init_default_scope("mmdet")
    wrap = TRANSFORMS.build(
        dict(type="ApplyToVisible", transforms=[dict(type="PhotoMetricDistortion")])
    )
    img = np.full((8, 8, 4), 250.0, np.float32)
    img[..., 3] = 7.0
    seen_above = False
    np.random.seed(0)  # noqa: NPY002  (PhotoMetricDistortion draws from the global state)
    for _ in range(20):
        out = wrap.transform({"img": img.copy(), "img_shape": (8, 8)})["img"]
        assert out.min() >= 0.0 and out.max() <= 255.0
        assert np.all(out[..., 3] == 7.0)
        seen_above |= bool((out[..., :3] == 255.0).any())
    assert seen_above  # the distortion did push values up: clipping happened


def test_range_error_names_the_likely_cause():
    with pytest.raises(ValueError, match="ApplyToVisible"):
        check_unit_pair_batch(torch.full((1, 4, 4, 4), 1.05), "TSJFusionBackbone")
    with pytest.raises(ValueError, match=r"mean=\[0\.0\], std=\[255\.0\]") as info:
        check_unit_pair_batch(torch.full((1, 4, 4, 4), 200.0), "TSJFusionBackbone")
    assert "ApplyToVisible" not in str(info.value)


@pytest.mark.parametrize(
    ("transform", "message"),
    [
        (dict(type="Mosaic", img_scale=(64, 64)), r"pipeline\[1\]: Mosaic pastes images"),
        (dict(type="MixUp", img_scale=(64, 64)), r"pipeline\[1\]: MixUp pastes images"),
        (
            dict(type="Pad", size=(64, 96), pad_val=dict(img=(114.0, 114.0, 114.0))),
            r"pipeline\[1\]: Pad pads the image with 3 values.*img=\(114\.0, 114\.0, 114\.0, 0\.0\)",
        ),
        (
            dict(type="Pad", size=(64, 96), pad_val=dict(img=114.0)),
            r"pipeline\[1\]: Pad pads the image with the single value 114\.0.*first channel",
        ),
    ],
)
def test_three_channel_transforms_are_clear_errors(transform, message, root):
    init_default_scope("mmdet")
    pipeline = [dict(type="LoadIRVisPair"), transform, dict(type="PackDetInputs")]
    with pytest.raises(ValueError, match=message):
        TSJPairDataset(
            reader="synthetic", data_root=str(root), task="det", pipeline=pipeline,
            reader_args=dict(num_train=4, num_test=2, height=HEIGHT, width=WIDTH),
        )  # fmt: skip


def test_single_pad_value_pads_the_pair_and_skip_types_drop_transforms(root):
    init_default_scope("mmdet")
    pipeline = [
        dict(type="LoadIRVisPair"),
        dict(type="Pad", size=(96, 96), pad_val=dict(img=(114.0, 114.0, 114.0, 5.0))),
        dict(type="RandomFlip", prob=1.0),
    ]
    dataset = TSJPairDataset(
        reader="synthetic", data_root=str(root), task="det", pipeline=pipeline,
        reader_args=dict(num_train=4, num_test=2, height=HEIGHT, width=WIDTH),
    )  # fmt: skip
    img = dataset[0]["img"]
    assert img.shape == (96, 96, 4)
    np.testing.assert_array_equal(img[HEIGHT:, 0], [[114.0, 114.0, 114.0, 5.0]] * (96 - HEIGHT))
    dataset.update_skip_type_keys(["RandomFlip", "Pad"])
    assert [type(t).__name__ for t in dataset.pipeline.transforms] == ["LoadIRVisPair"]
    assert dataset[0]["img"].shape == (HEIGHT, WIDTH, 4)
