"""Checkpoints: our format, the official four-part format, safety and clear errors."""

import pickle

import pytest
import torch

from tsjnet_plugin import build_fusion_model, load_checkpoint, save_checkpoint
from tsjnet_plugin.fusion import checkpoint as ckpt
from tsjnet_plugin.fusion.checkpoint import (
    CheckpointError,
    build_model_from_checkpoint,
    official_state_dict,
)


def fuse(model, seed=0):
    g = torch.Generator().manual_seed(seed)
    ir, vis = torch.rand(1, 1, 64, 64, generator=g), torch.rand(1, 1, 64, 64, generator=g)
    with torch.no_grad():
        return model.eval()(ir, vis)


def test_our_format_round_trip(tmp_path):
    model = build_fusion_model("tiny")
    path = save_checkpoint(model, tmp_path / "sub" / "fusion.pth", meta={"iteration": 7})
    fresh = build_fusion_model("tiny")
    assert not torch.equal(fuse(fresh), fuse(model))
    assert load_checkpoint(fresh, path) == {"iteration": 7}
    assert torch.equal(fuse(fresh), fuse(model))
    rebuilt = build_model_from_checkpoint(path, attention_backend="torch")
    assert rebuilt.cfg.kernel_size == 3 and torch.equal(fuse(rebuilt), fuse(model))


def test_official_four_part_layout_loads_strictly(tmp_path):
    model = build_fusion_model("tiny")
    parts = official_state_dict(model)
    assert set(parts) == {"DIDF_Encoder", "DIDF_Decoder", "BaseFuseLayer", "DetailFuseLayer"}
    assert "baseFeature.attn.levels.0.blocks.0.attn.rpb" in parts["DIDF_Encoder"]
    torch.save(parts, tmp_path / "official.pth")
    fresh = build_fusion_model("tiny")
    load_checkpoint(fresh, tmp_path / "official.pth")
    assert torch.equal(fuse(fresh), fuse(model))


def test_official_checkpoint_with_extra_and_missing_keys_names_them(tmp_path):
    parts = official_state_dict(build_fusion_model("tiny"))
    parts["DIDF_Decoder"]["bogus.weight"] = torch.zeros(1)
    del parts["BaseFuseLayer"]["attn.levels.0.blocks.0.attn.rpb"]
    torch.save(parts, tmp_path / "bad.pth")
    with pytest.raises(
        CheckpointError, match=r"part 'DIDF_Decoder'.*unexpected keys \(1\): bogus.weight"
    ):
        load_checkpoint(build_fusion_model("tiny"), tmp_path / "bad.pth")
    del parts["DIDF_Decoder"]["bogus.weight"]
    torch.save(parts, tmp_path / "bad.pth")
    with pytest.raises(
        CheckpointError, match=r"missing keys \(1\): attn.levels.0.blocks.0.attn.rpb"
    ):
        load_checkpoint(build_fusion_model("tiny"), tmp_path / "bad.pth")


def test_no_rpb_checkpoint_into_rpb_model_is_rejected(tmp_path):
    save_checkpoint(build_fusion_model("tiny", rpb=False), tmp_path / "norpb.pth")
    with pytest.raises(CheckpointError, match="rpb: checkpoint False vs model True"):
        load_checkpoint(build_fusion_model("tiny"), tmp_path / "norpb.pth")


def test_truncated_and_missing_files(tmp_path):
    path = save_checkpoint(build_fusion_model("tiny"), tmp_path / "full.pth")
    data = path.read_bytes()
    (tmp_path / "cut.pth").write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match=r"cut\.pth.*truncated"):
        load_checkpoint(build_fusion_model("tiny"), tmp_path / "cut.pth")
    with pytest.raises(FileNotFoundError, match=r"nowhere\.pth"):
        load_checkpoint(build_fusion_model("tiny"), tmp_path / "nowhere.pth")


class Payload:
    def __reduce__(self):
        return (print, ("arbitrary code",))


def test_arbitrary_pickles_are_refused(tmp_path):
    with open(tmp_path / "evil.pth", "wb") as handle:
        pickle.dump({"state_dict": Payload()}, handle)
    with pytest.raises(CheckpointError, match=r"evil\.pth"):
        load_checkpoint(build_fusion_model("tiny"), tmp_path / "evil.pth")


def test_crash_while_saving_keeps_the_last_good_checkpoint(tmp_path, monkeypatch):
    model = build_fusion_model("tiny")
    path = save_checkpoint(model, tmp_path / "model.pth")
    good = path.read_bytes()

    def crash(obj, handle):
        handle.write(b"partial")
        raise KeyboardInterrupt

    monkeypatch.setattr(ckpt.torch, "save", crash)
    with pytest.raises(KeyboardInterrupt):
        save_checkpoint(model, path)
    assert path.read_bytes() == good
    assert [p.name for p in tmp_path.iterdir()] == ["model.pth"]


def test_partial_saves_are_removed_and_nothing_else(tmp_path):
    model = build_fusion_model("tiny")
    path = save_checkpoint(model, tmp_path / "last.pth")
    partial = tmp_path / ".last.pth.a1b2_c3d.tmp"  # what a killed atomic_torch_save leaves
    partial.write_bytes(b"partial")
    for name in ("notes.tmp", ".notes.tmp", "last.pth.tmp"):
        (tmp_path / name).write_text("kept")
    assert ckpt.remove_partial_saves(tmp_path) == [partial]
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        ".notes.tmp",
        "last.pth",
        "last.pth.tmp",
        "notes.tmp",
    ]
    assert ckpt.remove_partial_saves(tmp_path / "missing") == []
    load_checkpoint(model, path)


def test_random_bytes_error_does_not_suggest_unsafe_loading(tmp_path):
    (tmp_path / "junk.pth").write_bytes(bytes(range(256)) * 8)
    with pytest.raises(CheckpointError, match=r"cannot read checkpoint .*junk\.pth") as info:
        load_checkpoint(build_fusion_model("tiny"), tmp_path / "junk.pth")
    assert "weights_only" not in str(info.value) and "\n" not in str(info.value)
