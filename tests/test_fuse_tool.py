"""tools/fuse.py and tsjnet_plugin.inference: folders, resume, no overwriting of inputs."""

import json
import runpy
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from tsjnet_plugin import build_fusion_model, save_checkpoint
from tsjnet_plugin.data import read_pairs_folder
from tsjnet_plugin.inference import FusionPredictor, fuse_pairs

ROOT = Path(__file__).resolve().parents[1]


def write_pairs(folder: Path, sizes=((40, 48), (40, 48), (36, 52))) -> Path:
    rng = np.random.default_rng(0)
    for sub in ("ir", "vi"):
        (folder / sub).mkdir(parents=True)
    for i, (h, w) in enumerate(sizes):
        Image.fromarray(rng.integers(0, 256, (h, w), dtype=np.uint8)).save(
            folder / "ir" / f"p{i}.png"
        )
        Image.fromarray(rng.integers(0, 256, (h, w, 3), dtype=np.uint8)).save(
            folder / "vi" / f"p{i}.jpg"
        )
    return folder


def test_predictor_single_pair_is_colour_with_visible_chroma():
    predictor = FusionPredictor(build_fusion_model("tiny"), "cpu")
    vis = np.zeros((32, 32, 3), np.uint8)
    vis[..., 0] = 200  # red
    result = predictor(np.full((32, 32), 128, np.uint8), vis)
    assert result.gray.shape == (32, 32) and result.color.shape == (32, 32, 3)
    assert (result.color[..., 0].astype(int) > result.color[..., 2]).all()  # still reddish
    with pytest.raises(ValueError, match="sizes differ"):
        predictor(np.zeros((32, 30), np.uint8), vis)


def test_predictor_amp_names_a_dtype_and_is_float32_on_cpu():
    model = build_fusion_model("tiny")
    ir, vis = np.full((32, 32), 90, np.uint8), np.full((32, 32, 3), 160, np.uint8)
    plain = FusionPredictor(model, "cpu")(ir, vis).gray
    for dtype in ("float16", "bfloat16"):
        predictor = FusionPredictor(model, "cpu", amp=dtype)
        assert predictor.amp_dtype is None  # autocast is for CUDA only
        assert np.array_equal(predictor(ir, vis).gray, plain)
    with pytest.raises(ValueError, match=r"FusionPredictor amp must be one of .*'float8'"):
        FusionPredictor(model, "cpu", amp="float8")


def test_fuse_pairs_batches_by_size_resumes_and_refuses_inputs(tmp_path):
    data = write_pairs(tmp_path / "data")
    records = list(read_pairs_folder(data / "ir", data / "vi").records)
    predictor = FusionPredictor(build_fusion_model("tiny"), "cpu")
    out = tmp_path / "out"
    assert sorted(fuse_pairs(predictor, records, out, batch_size=2, progress=False)) == [
        "p0",
        "p1",
        "p2",
    ]
    gray = np.asarray(Image.open(out / "gray" / "p2.png"))
    assert gray.shape == (36, 52)
    single = predictor(
        np.asarray(Image.open(data / "ir" / "p2.png")),
        np.asarray(Image.open(data / "vi" / "p2.jpg")),
    )
    assert np.abs(gray.astype(int) - single.gray).max() <= 1
    (out / "color" / "p1.png").unlink()
    assert fuse_pairs(predictor, records, out, progress=False) == ["p1"]  # resume
    (data / "ir").rename(data / "gray")  # an IR folder named like an output folder
    records = list(read_pairs_folder(data / "gray", data / "vi").records)
    with pytest.raises(ValueError, match="refusing to overwrite input"):
        fuse_pairs(predictor, records, data, progress=False, overwrite=True)


def test_fuse_cli_with_checkpoint(tmp_path):
    data = write_pairs(tmp_path / "data", sizes=((40, 48),))
    model = build_fusion_model("tiny")
    save_checkpoint(model, tmp_path / "fusion.pth")
    cmd = [
        sys.executable,
        str(ROOT / "tools" / "fuse.py"),
        "--ir",
        str(data / "ir"),
        "--vis",
        str(data / "vi"),
    ]
    cmd += [
        "--checkpoint",
        str(tmp_path / "fusion.pth"),
        "--out",
        str(tmp_path / "out"),
        "--device",
        "cpu",
    ]
    result = subprocess.run(cmd, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert "fused 1 pair(s)" in result.stdout
    fused = np.asarray(Image.open(tmp_path / "out" / "gray" / "p0.png"))
    with torch.no_grad():
        expected = FusionPredictor(model.eval(), "cpu")(
            np.asarray(Image.open(data / "ir" / "p0.png")),
            np.asarray(Image.open(data / "vi" / "p0.jpg")),
        )
    assert np.array_equal(fused, expected.gray)
    again = subprocess.run(cmd, capture_output=True, text=True)
    assert "fused 0 pair(s), kept 1 existing" in again.stdout


def test_fuse_cli_input_errors_come_before_any_work(tmp_path):
    data = write_pairs(tmp_path / "data", sizes=((40, 48),))
    tool = [sys.executable, str(ROOT / "tools" / "fuse.py"), "--random-init", "--arch", "tiny"]

    def run(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([*tool, *args], capture_output=True, text=True, timeout=300)

    missing = run("--ir", str(tmp_path / "nope"), "--vis", str(data / "vi"), "--out", str(tmp_path))
    assert missing.returncode != 0 and f"--ir {tmp_path / 'nope'} does not exist" in missing.stderr
    (tmp_path / "file.txt").write_text("x")
    as_file = run(
        "--ir", str(data / "ir"), "--vis", str(data / "vi"), "--out", str(tmp_path / "file.txt")
    )
    assert as_file.returncode != 0 and "is a file; give a folder" in as_file.stderr
    pair = f"{data / 'ir' / 'p0.png'} {data / 'vi' / 'p0.jpg'}\n"
    (tmp_path / "pairs.txt").write_text(pair + "# comment\n" + pair)
    twice = run("--list", str(tmp_path / "pairs.txt"), "--out", str(tmp_path / "o"))
    assert twice.returncode != 0 and "same output name 'p0' as line 1" in twice.stderr
    assert not (tmp_path / "o").exists()


def _fuse(argv: list[str], capsys, monkeypatch) -> tuple[int, str, str]:
    """Run tools/fuse.py in this process; (exit code, stdout, stderr)."""
    monkeypatch.setattr(sys, "argv", ["tools/fuse.py", *argv])
    code = 0
    try:
        runpy.run_path(str(ROOT / "tools" / "fuse.py"), run_name="__main__")
    except SystemExit as exit_info:
        code = exit_info.code or 0
    out, err = capsys.readouterr()
    return code, out, err


def test_fuse_cli_refuses_other_weights_into_the_same_out(tmp_path, capsys, monkeypatch):
    data = write_pairs(tmp_path / "data", sizes=((40, 48),))
    for seed in (1, 2):
        torch.manual_seed(seed)
        save_checkpoint(build_fusion_model("tiny"), tmp_path / f"w{seed}.pth")
    base = ["--ir", str(data / "ir"), "--vis", str(data / "vi"), "--out", str(tmp_path / "out")]
    base += ["--device", "cpu", "--checkpoint"]
    assert _fuse([*base, str(tmp_path / "w1.pth")], capsys, monkeypatch)[0] == 0
    first = (tmp_path / "out" / "gray" / "p0.png").read_bytes()
    manifest = json.loads((tmp_path / "out" / "fuse_manifest.json").read_text())
    assert manifest["weights"] == str((tmp_path / "w1.pth").resolve())
    assert len(manifest["sha256"]) == 64

    code, _, err = _fuse([*base, str(tmp_path / "w2.pth")], capsys, monkeypatch)
    assert code == 2 and "holds results of other weights" in err and "--overwrite" in err
    assert (tmp_path / "out" / "gray" / "p0.png").read_bytes() == first
    # The same file name with other contents is other weights too.
    (tmp_path / "w1.pth").write_bytes((tmp_path / "w2.pth").read_bytes())
    assert _fuse([*base, str(tmp_path / "w1.pth")], capsys, monkeypatch)[0] == 2

    code, out, _ = _fuse([*base, str(tmp_path / "w2.pth"), "--overwrite"], capsys, monkeypatch)
    assert code == 0 and "fused 1 pair(s)" in out
    assert (tmp_path / "out" / "gray" / "p0.png").read_bytes() != first
    code, out, _ = _fuse([*base, str(tmp_path / "w2.pth")], capsys, monkeypatch)
    assert code == 0 and "kept 1 existing" in out


def test_fuse_cli_removes_temporary_files_of_an_interrupted_run(tmp_path, capsys, monkeypatch):
    data = write_pairs(tmp_path / "data", sizes=((40, 48),))
    out = tmp_path / "out"
    argv = ["--ir", str(data / "ir"), "--vis", str(data / "vi"), "--out", str(out)]
    argv += ["--random-init", "--arch", "tiny", "--device", "cpu"]
    assert _fuse(argv, capsys, monkeypatch)[0] == 0
    leftover = out / "color" / ".p0.k3j_x9q2.png"  # what write_png_atomic leaves when killed
    leftover.write_bytes(b"half a png")
    (out / "gray" / ".keep.png").write_bytes(b"not ours")  # no mkstemp suffix: kept
    code, stdout, _ = _fuse(argv, capsys, monkeypatch)
    assert code == 0 and "removed 1 temporary file(s) of an interrupted run" in stdout
    assert not leftover.exists() and (out / "gray" / ".keep.png").exists()
