"""A broken install fails here loudly: every framework imports and runs one compiled op on CPU."""

import subprocess
import sys
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]


def test_mmcv_compiled_ops_nms_and_roi_align():
    from mmcv.ops import nms, roi_align

    boxes = torch.tensor([[0, 0, 10, 10], [1, 1, 11, 11], [50, 50, 60, 60]], dtype=torch.float32)
    scores = torch.tensor([0.9, 0.8, 0.7])
    dets, keep = nms(boxes, scores, iou_threshold=0.5)
    assert keep.tolist() == [0, 2]
    assert dets.shape == (2, 5)
    feat = torch.arange(16, dtype=torch.float32).view(1, 1, 4, 4)
    rois = torch.tensor([[0, 0, 0, 4, 4]], dtype=torch.float32)
    pooled = roi_align(feat, rois, (1, 1), 1.0, 2, "avg", True)
    assert pooled.item() == feat.mean().item()


def test_detectron2_compiled_ops():
    from detectron2.layers import ROIAlign, batched_nms, nms_rotated

    feat = torch.arange(16, dtype=torch.float32).view(1, 1, 4, 4)
    rois = torch.tensor([[0, 0, 0, 4, 4]], dtype=torch.float32)
    pooled = ROIAlign((1, 1), 1.0, sampling_ratio=2, aligned=True)(feat, rois)
    assert pooled.item() == feat.mean().item()
    boxes = torch.tensor([[0, 0, 10, 10], [1, 1, 11, 11], [1, 1, 11, 11]], dtype=torch.float32)
    keep = batched_nms(boxes, torch.tensor([0.9, 0.8, 0.7]), torch.tensor([0, 0, 1]), 0.5)
    assert sorted(keep.tolist()) == [0, 2]
    rotated = torch.tensor([[5, 5, 10, 10, 0], [5.5, 5.5, 10, 10, 0]], dtype=torch.float32)
    assert nms_rotated(rotated, torch.tensor([0.9, 0.8]), 0.5).tolist() == [0]  # detectron2._C


def test_openmmlab_model_registries_import():
    import mmdet.models  # noqa: F401
    import mmseg.models  # noqa: F401
    from mmdet.registry import MODELS as DET_MODELS
    from mmseg.registry import MODELS as SEG_MODELS

    assert DET_MODELS.get("FasterRCNN") is not None
    assert SEG_MODELS.get("DepthwiseSeparableASPPHead") is not None


def test_natten_runs_on_cpu():
    import natten

    q, k, v = (torch.randn(1, 8, 8, 2, 16) for _ in range(3))
    out = natten.na2d(q, k, v, kernel_size=3)
    assert out.shape == (1, 8, 8, 2, 16)
    assert torch.isfinite(out).all()


def test_environment_report_lists_the_stack():
    result = subprocess.run(
        [sys.executable, "-m", "tsjnet_plugin.env"], capture_output=True, text=True, check=True
    )
    report = result.stdout
    for name in ("torch", "natten", "mmcv compiled ops", "mmsegmentation", "mmdet", "detectron2"):
        assert name in report
    assert "not installed" not in report
    if not torch.cuda.is_available():
        assert "CPU path" in report


def test_ruff_is_clean():
    for cmd in (["check", "."], ["format", "--check", "."]):
        result = subprocess.run(
            [sys.executable, "-m", "ruff", *cmd], cwd=ROOT, capture_output=True, text=True
        )
        assert result.returncode == 0, result.stdout + result.stderr
