"""On CUDA: one AMP step (bfloat16 with a fixed unit loss scale, float16 with a dynamic one) of the
mm joint model (fusion + Faster R-CNN + DeepLabV3+) moves the fusion trunk and keeps every
parameter finite."""

import sys
from pathlib import Path

import pytest
import torch

pytestmark = pytest.mark.cuda

pytest.importorskip("mmdet")
pytest.importorskip("mmseg")
if pytest.importorskip("mmcv.ops").get_compiling_cuda_version() == "not available":
    pytest.skip("mmcv's ops were built without CUDA", allow_module_level=True)

from mmengine.optim import AmpOptimWrapper  # noqa: E402
from mmengine.registry import MODELS, init_default_scope  # noqa: E402

import tsjnet_plugin.mm  # noqa: E402, F401  (registers the plugin)

TESTS = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(TESTS / "mm"))  # the mm tests' batch helper
from synthetic_batches import synthetic_batch  # noqa: E402

CONFIGS = TESTS.parent / "configs" / "mm"
PIPELINE = [
    dict(type="LoadIRVisPair"),
    dict(type="LoadAnnotations", with_bbox=True),
    dict(type="LoadPairSegLabel"),
    dict(type="PackDetInputs"),
]
# What configs/mm and docs/mm.md show for each precision.
WRAPPERS = {
    "bfloat16": dict(dtype="bfloat16", loss_scale=1.0),
    "float16": dict(dtype="float16", loss_scale="dynamic"),
}


@pytest.mark.parametrize("dtype", sorted(WRAPPERS))
def test_one_amp_step_moves_the_fusion_trunk_and_stays_finite(tmp_path, dtype):
    init_default_scope("mmdet")
    torch.manual_seed(0)
    model = MODELS.build(
        dict(
            type="TSJJointModel",
            fusion=dict(arch="fast", with_cp=True),
            detector=dict(config=str(CONFIGS / "det_faster-rcnn_r18_fpn_tsj.py")),
            segmentor=dict(config=str(CONFIGS / "seg_deeplabv3plus_r18_pad32.py")),
            schedule=dict(mode="sum"),
        )
    ).cuda()
    reader_args = dict(num_train=2, num_test=0, height=128, width=160)
    batch = synthetic_batch(tmp_path, "mmdet", "joint", PIPELINE, reader_args, range(2))
    wrapper = AmpOptimWrapper(
        optimizer=torch.optim.Adam(model.parameters(), lr=1e-4), **WRAPPERS[dtype]
    )
    fusion = model.fusion.net
    before = {n: p.detach().clone() for n, p in fusion.named_parameters() if p.requires_grad}
    attempts = 1 if dtype == "bfloat16" else 4  # a dynamic scale may skip its first steps
    for iteration in range(attempts):
        model.set_iteration(iteration)
        log = model.train_step(batch, wrapper)
        moved = [n for n, p in fusion.named_parameters() if n in before
                 and not torch.equal(p, before[n])]  # fmt: skip
        if moved:
            break
    assert torch.isfinite(log["loss"]).all()
    assert len(moved) > 0.9 * len(before), f"{len(moved)} of {len(before)} fusion tensors moved"
    assert all(torch.isfinite(p).all() for p in model.parameters())
