"""The fusion backbone with the documented mean/std, the fusion metric and the inferencer."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.logging import HistoryBuffer
from mmengine.optim import OptimWrapper
from mmengine.registry import MODELS
from mmengine.structures import PixelData
from PIL import Image
from synthetic_batches import synthetic_batch

from tsjnet_plugin.fusion import ARCHS, build_model_from_checkpoint
from tsjnet_plugin.metrics import evaluate_fusion, rgb_luma
from tsjnet_plugin.mm import TSJFusionMetric, TSJInferencer
from tsjnet_plugin.mm.hooks import attach_fusion_loss_collector

CONFIGS = Path(__file__).resolve().parents[2] / "configs" / "mm"
HEIGHT, WIDTH = 64, 80
SYNTHETIC = dict(num_train=2, num_test=2, height=HEIGHT, width=WIDTH)
SEG_PIPELINE = [
    dict(type="LoadIRVisPair"),
    dict(type="LoadPairSegLabel"),
    dict(type="PackSegInputs"),
]


@pytest.fixture(scope="module")
def data_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("mm_inference") / "synthetic"


def _seg_batch(root: Path) -> dict:
    return synthetic_batch(root, "mmseg", "seg", SEG_PIPELINE, SYNTHETIC, indices=(0, 1))


def test_mm_fusion_backbone_with_documented_mean_std_trains(data_root):
    base = Config.fromfile(str(CONFIGS / "seg_deeplabv3plus_r18_pad32.py")).model
    model = MODELS.build(
        dict(
            base,
            data_preprocessor=dict(
                type="SegDataPreProcessor",
                mean=[0.0],
                std=[255.0],
                bgr_to_rgb=False,
                size_divisor=32,
            ),
            backbone=dict(
                type="TSJFusionBackbone", fusion=dict(arch="tiny"), backbone=base.backbone
            ),
        )
    )
    fusion = model.backbone.front_end
    before = {n: p.detach().clone() for n, p in fusion.named_parameters() if p.requires_grad}
    attach_fusion_loss_collector(model)
    log = model.train_step(
        _seg_batch(data_root), OptimWrapper(torch.optim.SGD(model.parameters(), lr=0.01))
    )
    assert "loss_fusion_int" in log and "decode.loss_ce" in log
    assert any(not torch.equal(p, before[n]) for n, p in fusion.named_parameters() if n in before)
    with pytest.raises(ValueError, match=r"mean=\[0.0\], std=\[255.0\]"):
        model.backbone(torch.full((1, 4, HEIGHT, WIDTH), 200.0))


def test_mm_fusion_metric_matches_evaluate_fusion():
    rng = np.random.default_rng(0)
    pair = torch.from_numpy(rng.integers(0, 256, (4, HEIGHT, WIDTH)).astype(np.float32))
    fused = pair[3:] / 255.0  # the IR itself
    metric = TSJFusionMetric(metrics=("EN", "SSIM", "MSE"))
    sample = dict(pred_fusion=dict(fused=fused), img_shape=(HEIGHT, WIDTH))
    metric.process(dict(inputs=[pair]), [sample])
    scores = metric.compute_metrics(metric.results)
    b, g, r = pair[0].numpy(), pair[1].numpy(), pair[2].numpy()
    vis_y = np.round(rgb_luma(r, g, b))  # as tools/eval_fusion.py reads a colour PNG
    expected = evaluate_fusion(pair[3].numpy(), pair[3].numpy(), vis_y, ("EN", "SSIM", "MSE"))
    assert scores == pytest.approx(expected)


def test_mm_inferencer_joint_model_paths_and_arrays(data_root, tmp_path):
    cfg = Config.fromfile(
        str(CONFIGS / "joint_faster-rcnn_deeplabv3plus_r18_tsj-fast_alternate_synthetic-96x128.py")
    )
    _seg_batch(data_root)  # writes the data
    inferencer = TSJInferencer(cfg, device="cpu")
    ir_path = data_root / "test" / "ir" / "00000.png"
    vis_path = data_root / "test" / "vi" / "00000.png"
    (from_paths,) = inferencer(ir_path, vis_path)
    (from_arrays,) = inferencer(np.asarray(Image.open(ir_path)), np.asarray(Image.open(vis_path)))
    for prediction in (from_paths, from_arrays):
        sample = prediction.sample
        assert prediction.fused.shape == (HEIGHT, WIDTH, 3) and prediction.fused.dtype == np.uint8
        assert sample.pred_sem_seg.sem_seg.shape == (1, HEIGHT, WIDTH)
        assert "bboxes" in sample.pred_instances and "scores" in sample.pred_instances
        assert isinstance(sample.pred_fusion, PixelData)
    np.testing.assert_array_equal(from_paths.fused, from_arrays.fused)
    checkpoint = tmp_path / "joint.pth"
    torch.save(
        {"state_dict": inferencer.model.state_dict(), "meta": {"seed": np.int64(0)}}, checkpoint
    )
    reloaded = TSJInferencer(cfg, str(checkpoint), device="cpu")
    np.testing.assert_array_equal(reloaded(ir_path, vis_path)[0].fused, from_paths.fused)
    # tools/fuse.py takes mmengine checkpoints (message hub included) without running their
    # pickled code: the fusion sub-model and its arch are extracted.
    history = HistoryBuffer()
    history.update(1.0)
    torch.save(
        {
            "state_dict": inferencer.model.state_dict(),
            "meta": {"seed": np.int64(0)},
            "message_hub": {"log_scalars": {"train/loss": history}},
        },
        checkpoint,
    )
    fusion = build_model_from_checkpoint(checkpoint)
    assert fusion.cfg == ARCHS[cfg.model.fusion.arch]
    expected = inferencer.model.fusion.net.state_dict()
    assert all(torch.equal(v, expected[k]) for k, v in fusion.state_dict().items())


def test_mm_tools_apply_command_line_options(tmp_path):
    import importlib.util

    tools = Path(__file__).resolve().parents[2] / "tools"
    spec = importlib.util.spec_from_file_location("train_mm", tools / "train_mm.py")
    train_mm = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(train_mm)
    config = str(
        CONFIGS / "joint_faster-rcnn_deeplabv3plus_r18_tsj-fast_alternate_synthetic-96x128.py"
    )
    args = train_mm.parse_args(
        [
            config,
            "--work-dir",
            str(tmp_path),
            "--resume",
            "--cfg-options",
            "model.schedule.mode=sum",
            "train_cfg.max_iters=3",
        ]
    )
    cfg = train_mm.build_config(args)
    assert cfg.work_dir == str(tmp_path) and cfg.resume is True and cfg.load_from is None
    assert cfg.model.schedule.mode == "sum" and cfg.train_cfg.max_iters == 3
    assert cfg.launcher == "none"


@pytest.mark.parametrize(
    ("flag", "dtype", "loss_scale"),
    [(["--amp"], "bfloat16", 1.0), (["--amp", "float16"], "float16", "dynamic")],
)
def test_train_mm_amp_flag_sets_the_dtype_and_loss_scale(flag, dtype, loss_scale):
    import importlib.util

    tools = Path(__file__).resolve().parents[2] / "tools"
    spec = importlib.util.spec_from_file_location("train_mm", tools / "train_mm.py")
    train_mm = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(train_mm)
    config = CONFIGS / "joint_faster-rcnn_deeplabv3plus_r18_tsj-fast_alternate_synthetic-96x128.py"
    cfg = train_mm.build_config(train_mm.parse_args([str(config), *flag]))
    wrapper = cfg.optim_wrapper
    assert (wrapper.type, wrapper.dtype, wrapper.loss_scale) == (
        "AmpOptimWrapper",
        dtype,
        loss_scale,
    )
    assert wrapper.optimizer.type == "SGD"  # the config's optimizer is kept


def test_msrs_config_trains_in_bf16_with_activation_checkpointing():
    cfg = Config.fromfile(
        CONFIGS / "joint_faster-rcnn_deeplabv3plus_r18_tsj_alternate_msrs-480x640.py"
    )
    assert cfg.optim_wrapper.type == "AmpOptimWrapper" and cfg.optim_wrapper.dtype == "bfloat16"
    assert cfg.model.fusion.with_cp is True
    preprocessor = MODELS.build(
        dict(
            type="TSJFusionPreprocessor",
            fusion=dict(arch="tiny", with_cp=True),
            preprocessor=dict(type="mmseg.SegDataPreProcessor"),
        )
    )
    assert preprocessor.front_end.net.cfg.with_cp
