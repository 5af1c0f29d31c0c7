"""The `fast` arch, the shipped weights and loading fusion weights out of framework checkpoints."""

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from tsjnet_plugin.data import read_ir, read_visible
from tsjnet_plugin.fusion import (
    ARCHS,
    DEFAULT_WEIGHTS,
    PRETRAINED,
    CheckpointError,
    build_fusion_model,
    build_model_from_checkpoint,
    resolve_weights,
)
from tsjnet_plugin.fusion.detail import GroupSpatialAttention
from tsjnet_plugin.inference import FusionPredictor

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = ROOT / "assets" / "samples"
EXPECTED = Path(__file__).parent / "expected" / "00004N_tsjnet_fast_roadscene.png"


def test_group_spatial_attention_equals_one_conv_per_group():
    gsa = GroupSpatialAttention(32, 8)
    x = torch.randn(2, 32, 9, 11)
    gated, maps = gsa(x)
    groups = x.chunk(8, dim=1)
    expected_maps = [torch.sigmoid(conv(g)) for conv, g in zip(gsa.conv, groups)]
    expected = torch.cat([g * m for g, m in zip(groups, expected_maps)], dim=1)
    torch.testing.assert_close(maps, torch.cat(expected_maps, dim=1))
    torch.testing.assert_close(gated, expected)


def test_fast_arch_keeps_the_design_under_one_million_parameters():
    model = build_fusion_model("fast")
    assert sum(p.numel() for p in model.parameters()) <= 1_000_000
    cfg = model.cfg
    assert cfg.rpb and cfg.kernel_size == 5 and cfg.decoder_heads == 8
    rpb = model.encoder.baseFeature.attn.levels[0].blocks[0].attn.rpb
    assert tuple(rpb.shape) == (1, 9, 9)  # relative position bias, [heads, 2k-1, 2k-1]
    ir = torch.rand(2, 1, 70, 90)
    out = model(ir, ir, with_aux=True)
    assert out.fused.shape == (2, 1, 70, 90) and out.attention.shape == (2, 8, 70, 90)


def test_shipped_weights_are_small_and_load_strictly_with_weights_only():
    entry = PRETRAINED[DEFAULT_WEIGHTS["fast"]]
    assert entry.path.is_file() and entry.path.stat().st_size < 5 * 2**20
    payload = torch.load(entry.path, map_location="cpu", weights_only=True)
    assert payload["format"] == "tsjnet_plugin.fusion" and "training" not in payload
    saved = {k: v for k, v in payload["arch"].items() if k != "attention_backend"}
    # with_cp (a runtime option) is newer than the shipped file, which loads with its default.
    runtime = ("attention_backend", "with_cp")
    expected = {k: v for k, v in ARCHS["fast"].to_dict().items() if k not in runtime}
    assert {k: tuple(v) if isinstance(v, list) else v for k, v in saved.items()} == expected
    model = build_fusion_model("fast", pretrained=True)
    state = model.state_dict()
    assert all(torch.equal(state[k], v) for k, v in payload["state_dict"].items())
    assert build_model_from_checkpoint("tsjnet_fast_roadscene").cfg == model.cfg


def test_shipped_weights_fuse_a_sample_pair_as_stored():
    predictor = FusionPredictor(build_fusion_model("fast", pretrained=True), "cpu")
    result = predictor(
        read_ir(SAMPLES / "ir" / "00004N.png"), read_visible(SAMPLES / "vi" / "00004N.png")
    )
    expected = np.asarray(Image.open(EXPECTED), dtype=np.int16)
    difference = np.abs(result.gray.astype(np.int16) - expected)
    assert difference.max() <= 2 and difference.mean() < 0.05


def test_unknown_names_and_archs_without_weights_are_clear_errors():
    with pytest.raises(ValueError, match="no shipped weights for arch 'official'"):
        build_fusion_model("official", pretrained=True)
    with pytest.raises(FileNotFoundError, match="tsjnet_fast_roadscene"):
        resolve_weights("tsjnet_fast_roadscen")


def test_foreign_state_dict_error_says_what_the_file_holds(tmp_path):
    path = tmp_path / "resnet.pth"
    torch.save({"model": {"conv1.weight": torch.zeros(2), "fc.bias": torch.zeros(1)}}, path)
    with pytest.raises(CheckpointError, match="holds no TSJNet fusion weights") as error:
        build_model_from_checkpoint(path)
    assert "'model' entry is a dict of 2 entries (2 tensors): conv1.weight, fc.bias" in str(
        error.value
    )


def test_prefixed_state_dict_loads_with_its_arch_inferred(tmp_path):
    model = build_fusion_model("tiny")
    path = tmp_path / "wrapped.pth"
    torch.save({"model": {f"fusion.{k}": v for k, v in model.state_dict().items()}}, path)
    loaded = build_model_from_checkpoint(path)
    assert loaded.cfg == ARCHS["tiny"]
    assert all(torch.equal(v, model.state_dict()[k]) for k, v in loaded.state_dict().items())


def run_fuse(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(ROOT / "tools" / "fuse.py"), *args],
        capture_output=True, text=True, cwd=ROOT, timeout=600,
    )  # fmt: skip


def test_fuse_tool_uses_the_shipped_weights_by_default(tmp_path):
    ir, vis = SAMPLES / "ir" / "00008N.png", SAMPLES / "vi" / "00008N.png"
    result = run_fuse("--ir", str(ir), "--vis", str(vis), "--out", str(tmp_path))
    assert result.returncode == 0, result.stderr
    predictor = FusionPredictor(build_fusion_model("fast", pretrained=True), "cpu")
    expected = predictor(read_ir(ir), read_visible(vis))
    written = np.asarray(Image.open(tmp_path / "gray" / "00008N.png"))
    np.testing.assert_array_equal(written, expected.gray)


def test_fuse_tool_refuses_a_foreign_checkpoint_clearly(tmp_path):
    path = tmp_path / "detector.pth"
    torch.save({"model": {"backbone.conv1.weight": torch.zeros(2)}, "iteration": 3}, path)
    ir, vis = SAMPLES / "ir" / "00008N.png", SAMPLES / "vi" / "00008N.png"
    result = run_fuse(
        "--ir", str(ir), "--vis", str(vis), "--checkpoint", str(path), "--out", str(tmp_path)
    )
    assert result.returncode != 0 and "Traceback" not in result.stderr
    assert "holds no TSJNet fusion weights" in result.stderr and "iteration" in result.stderr


class _RunsCode:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


def test_framework_checkpoint_with_pickled_code_is_read_without_running_it(tmp_path):
    model = build_fusion_model("tiny")
    marker = tmp_path / "code_ran"
    path = tmp_path / "mm_like.pth"
    state = {f"fusion.net.{k}": v for k, v in model.state_dict().items()}
    torch.save({"state_dict": state, "message_hub": {"hook": _RunsCode(marker)}}, path)
    loaded = build_model_from_checkpoint(path)
    assert not marker.exists()
    assert all(torch.equal(v, model.state_dict()[k]) for k, v in loaded.state_dict().items())


def test_border_margin_removes_the_bright_frame_the_loss_teaches():
    ir = read_ir(SAMPLES / "ir" / "00004N.png")
    vis = read_visible(SAMPLES / "vi" / "00004N.png")

    def frame_excess(**overrides) -> float:
        model = build_fusion_model("fast", pretrained=True, **overrides)
        gray = FusionPredictor(model, "cpu")(ir, vis).gray.astype(float)
        return float(gray[:, 0].mean() - gray[:, 10:20].mean())

    assert frame_excess(border=0) > 40  # what the fusion loss taught
    assert abs(frame_excess()) < 5  # the shipped config: border=8


def test_border_pads_small_inputs_and_crops_back():
    model = build_fusion_model("tiny", border=8).eval()
    assert model.padded_size(80, 81) == (96, 128)  # 80 + 2 * 8 = 96; 81 + 16 rounds up to 128
    x = torch.rand(2, 1, 5, 7)
    with torch.no_grad():
        assert model(x, x).shape == (2, 1, 5, 7)


@pytest.mark.parametrize("name", sorted(PRETRAINED))
def test_every_shipped_record_matches_its_file_and_card(name):
    import hashlib

    entry = PRETRAINED[name]
    assert entry.name == name and entry.arch in ARCHS
    assert hashlib.sha256(entry.path.read_bytes()).hexdigest() == entry.sha256
    assert entry.path.stat().st_size < 5 * 2**20
    payload = torch.load(entry.path, map_location="cpu", weights_only=True)
    assert build_model_from_checkpoint(name).cfg.feat_dim == ARCHS[entry.arch].feat_dim
    assert payload["format"] == "tsjnet_plugin.fusion"
    card = (ROOT / "docs" / "model_zoo.md").read_text()
    assert f"## Model card: `{name}`" in card and entry.card == f"model-card-{name}"
    defaults = [w.name for w in PRETRAINED.values() if w.arch == entry.arch and w.default]
    assert len(defaults) == 1 and DEFAULT_WEIGHTS[entry.arch] == defaults[0]
