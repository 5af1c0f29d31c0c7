"""Fusion-only training: crop stream, schedule, validation, trainer, resume and the CLI."""

import json
import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from tsjnet_plugin.data import PairRecord, read_pairs_folder
from tsjnet_plugin.fusion import build_model_from_checkpoint
from tsjnet_plugin.metrics import evaluate_fusion
from tsjnet_plugin.training import (
    CropStream,
    FusionTrainConfig,
    FusionTrainer,
    FusionValidator,
    LoadedPair,
    cosine_with_warmup,
    load_pairs,
)

ROOT = Path(__file__).resolve().parents[2]


def make_pair(height: int, width: int, seed: int = 0) -> LoadedPair:
    """A pair whose visible luma is exactly half the infrared, to check paired cropping."""
    ir = torch.rand(1, 1, height, width, generator=torch.Generator().manual_seed(seed))
    record = PairRecord(f"p{seed}", "ir.png", "vis.png", height, width)
    return LoadedPair(record, ir, ir.expand(1, 3, height, width) * 0.5, ir * 0.5)


def write_folder(folder: Path, count: int = 4, size=(100, 112)) -> Path:
    """``count`` smooth, structured pairs (a warm blob in IR, texture in visible)."""
    rng = np.random.default_rng(0)
    (folder / "ir").mkdir(parents=True)
    (folder / "vi").mkdir(parents=True)
    ys, xs = np.mgrid[: size[0], : size[1]]
    for i in range(count):
        cy, cx = rng.uniform(20, size[0] - 20), rng.uniform(20, size[1] - 20)
        ir = 40 + 180 * np.exp(-((ys - cy) ** 2 + (xs - cx) ** 2) / 150.0)
        stripes = 100 + 60 * np.sin(xs / (2.0 + i)) * np.cos(ys / 5.0)
        vis = np.stack([stripes, stripes * 0.9, stripes * 0.7], -1)
        Image.fromarray(ir.round().astype(np.uint8)).save(folder / "ir" / f"s{i}.png")
        Image.fromarray(vis.round().astype(np.uint8)).save(folder / "vi" / f"s{i}.png")
    return folder


def test_crop_stream_is_a_function_of_seed_and_iteration():
    pairs = [make_pair(40, 50, s) for s in range(3)]
    a, b = CropStream(pairs, 16, 4, seed=1), CropStream(pairs, 16, 4, seed=1)
    for iteration in (0, 5, 2):
        ir_a, vis_a = a.batch(iteration)
        ir_b, vis_b = b.batch(iteration)
        assert ir_a.shape == vis_a.shape == (4, 1, 16, 16)
        assert torch.equal(ir_a, ir_b) and torch.equal(vis_a, vis_b)
        # Same window and same flips for both modalities.
        assert torch.equal(vis_a, ir_a * 0.5)
    assert not torch.equal(a.batch(0)[0], CropStream(pairs, 16, 4, seed=2).batch(0)[0])
    assert not torch.equal(a.batch(0)[0], a.batch(1)[0])


def test_crop_stream_visits_every_pair_once_per_epoch():
    pairs = [make_pair(8, 8, s) for s in range(5)]
    stream = CropStream(pairs, 8, 5, seed=0)
    ir, _ = stream.batch(0)  # one epoch; a full-size crop only flips
    means = sorted(round(float(x.mean()), 6) for x in ir)
    assert means == sorted(round(float(p.ir.mean()), 6) for p in pairs)


def test_crop_stream_rejects_small_pairs():
    with pytest.raises(ValueError, match="smaller than the 32px crop"):
        CropStream([make_pair(20, 40)], 32, 1)


def test_cosine_with_warmup_values():
    factor = cosine_with_warmup(iterations=110, warmup=10, min_ratio=0.1)
    assert factor(0) == pytest.approx(0.01)
    assert factor(5) == pytest.approx(0.01 + 0.99 * 0.5)
    assert factor(10) == pytest.approx(1.0)
    assert factor(60) == pytest.approx(0.1 + 0.9 * 0.5)  # half-way down the cosine
    assert factor(110) == pytest.approx(0.1)


def test_validator_baselines_match_hand_computed_scores(tmp_path):
    folder = write_folder(tmp_path / "pairs", count=2)
    pairs = load_pairs(read_pairs_folder(folder / "ir", folder / "vi").records, progress=False)
    validator = FusionValidator(pairs, metrics=("EN", "SD", "Qabf"))
    ir = np.asarray(Image.open(folder / "ir" / "s0.png"), np.float64)
    vis = np.asarray(Image.open(folder / "vi" / "s0.png").convert("RGB"), np.float32)
    vis = np.round(0.299 * vis[..., 0] + 0.587 * vis[..., 1] + 0.114 * vis[..., 2])
    expected = evaluate_fusion(np.maximum(ir, vis), ir, vis, ("EN", "SD", "Qabf"))
    ir1 = np.asarray(Image.open(folder / "ir" / "s1.png"), np.float64)
    vis1 = np.asarray(Image.open(folder / "vi" / "s1.png").convert("RGB"), np.float32)
    vis1 = np.round(0.299 * vis1[..., 0] + 0.587 * vis1[..., 1] + 0.114 * vis1[..., 2])
    expected1 = evaluate_fusion(np.maximum(ir1, vis1), ir1, vis1, ("EN", "SD", "Qabf"))
    for name in expected:
        mean = (expected[name] + expected1[name]) / 2
        assert validator.baselines["max"][name] == pytest.approx(mean, rel=1e-6)
    assert validator.score(validator.baselines["max"]) == pytest.approx(1.0)
    better = {k: v * 1.1 for k, v in validator.baselines["max"].items()}
    assert validator.beats_max(better) == ["EN", "SD", "Qabf"]
    assert validator.beats_max(validator.baselines["max"]) == []


def tiny_config(**changes) -> FusionTrainConfig:
    base = dict(arch="tiny", batch_size=2, iterations=4, warmup=1, val_every=2, log_every=1)
    return FusionTrainConfig(**{**base, **changes})


@pytest.fixture(scope="module")
def tiny_pairs(tmp_path_factory):
    folder = write_folder(tmp_path_factory.mktemp("pairs"), count=4)
    pairs = load_pairs(read_pairs_folder(folder / "ir", folder / "vi").records, progress=False)
    return pairs[:3], pairs[3:]


def test_trainer_writes_checkpoints_logs_and_pictures(tmp_path, tiny_pairs):
    train, val = tiny_pairs
    trainer = FusionTrainer(tiny_config(), train, val, tmp_path, "cpu", progress=False)
    result = trainer.train()
    assert trainer.iteration == 4
    for name in (
        "best.pth",
        "last.pth",
        "metrics.jsonl",
        "loss_curves.png",
        "val_grid.png",
        "validation.png",
    ):
        assert (tmp_path / name).is_file(), name
    rows = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert [r["iteration"] for r in rows if "total_loss" in r] == [1, 2, 3, 4]
    assert [r["iteration"] for r in rows if "validation" in r] == [2, 4]
    assert set(result["metrics"]) == {"EN", "SD", "SF", "AG", "MI", "SCD", "VIF", "Qabf", "SSIM"}
    assert all(math.isfinite(v) for v in result["metrics"].values())
    # best.pth is an ordinary fusion checkpoint (weights_only) with its validation in meta.
    model = build_model_from_checkpoint(tmp_path / "best.pth")
    payload = torch.load(tmp_path / "best.pth", weights_only=True)
    assert payload["meta"]["score"] == pytest.approx(trainer.best_score)
    assert model.cfg.feat_dim == 8
    grid = Image.open(tmp_path / "val_grid.png")
    assert grid.size[0] >= 5 * 112  # IR | visible | max | fused gray | fused colour


def test_losses_go_down(tmp_path, tiny_pairs):
    train, val = tiny_pairs
    cfg = tiny_config(iterations=30, val_every=30, lr=5e-3, warmup=2)
    trainer = FusionTrainer(cfg, train, val, tmp_path, "cpu", progress=False)
    trainer.train()
    rows = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    losses = [r["total_loss"] for r in rows if "total_loss" in r]
    assert np.mean(losses[-5:]) < 0.8 * np.mean(losses[:5])


def test_resume_reproduces_the_uninterrupted_run(tmp_path, tiny_pairs):
    train, val = tiny_pairs
    cfg = tiny_config(iterations=4, val_every=2)
    straight = FusionTrainer(cfg, train, val, tmp_path / "a", "cpu", progress=False)
    straight.train()
    interrupted = FusionTrainer(cfg, train, val, tmp_path / "b", "cpu", progress=False)
    interrupted.train(stop_at=2)
    torch.manual_seed(123)  # whatever the process did in between must not matter
    resumed = FusionTrainer(cfg, train, val, tmp_path / "b", "cpu", progress=False)
    resumed.resume()
    assert resumed.iteration == 2
    resumed.train()
    for key, value in straight.model.state_dict().items():
        assert torch.equal(value, resumed.model.state_dict()[key]), key

    def log(folder: Path) -> list[dict]:
        rows = [json.loads(x) for x in (folder / "metrics.jsonl").read_text().splitlines()]
        return [{k: v for k, v in row.items() if k != "elapsed_s"} for row in rows]

    assert log(tmp_path / "a") == log(tmp_path / "b")


def test_resume_without_training_state_is_refused(tmp_path, tiny_pairs):
    train, val = tiny_pairs
    trainer = FusionTrainer(tiny_config(iterations=2), train, val, tmp_path, "cpu", progress=False)
    trainer.train()
    with pytest.raises(ValueError, match="no training state"):
        trainer.resume(tmp_path / "best.pth")


def run_tool(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(ROOT / "tools" / "train_fusion.py"), *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=600,
    )


def test_cli_trains_with_a_held_aside_split(tmp_path):
    folder = write_folder(tmp_path / "pairs", count=5)
    out = tmp_path / "run"
    common = ["--ir", str(folder / "ir"), "--vis", str(folder / "vi"), "--arch", "tiny",
              "--batch-size", "2", "--val-interval", "2", "--val-every-nth", "4",
              "--out", str(out), "--no-progress", "--with-cp"]  # fmt: skip
    result = run_tool(*common, "--iterations", "2")
    assert result.returncode == 0, result.stderr
    split = json.loads((out / "split.json").read_text())
    assert split["val"] == ["pairs/s3"] and len(split["train"]) == 4
    assert build_model_from_checkpoint(out / "best.pth").cfg.with_cp  # a runtime option
    assert not build_model_from_checkpoint(out / "best.pth", with_cp=False).cfg.with_cp
    again = run_tool(*common, "--iterations", "3", "--resume")
    assert again.returncode == 0, again.stderr
    assert "resumed" in again.stdout and "at iteration 2" in again.stdout


def test_cli_errors_are_clear(tmp_path):
    result = run_tool("--ir", str(tmp_path), "--out", str(tmp_path / "o"))
    assert result.returncode == 2
    assert "1 --ir for 0 --vis" in result.stderr
    result = run_tool("--dataset", "nonsense:/x", "--out", str(tmp_path / "o"))
    assert result.returncode == 2 and "unknown reader 'nonsense'" in result.stderr
    folder = write_folder(tmp_path / "pairs", count=2, size=(60, 64))
    result = run_tool(
        "--ir",
        str(folder / "ir"),
        "--vis",
        str(folder / "vi"),
        "--arch",
        "tiny",
        "--crop",
        "80",
        "--out",
        str(tmp_path / "o"),
        "--no-progress",
    )
    assert result.returncode == 2 and "smaller than the 80px crop" in result.stderr
    result = run_tool(
        "--ir",
        str(folder / "ir"),
        "--vis",
        str(folder / "vi"),
        "--arch",
        "tiny",
        "--batch-size",
        "1",
        "--out",
        str(tmp_path / "o"),
        "--no-progress",
    )
    assert result.returncode == 2 and "batch_size must be at least 2" in result.stderr


@pytest.mark.slow
def test_official_arch_trains_with_the_same_tool(tmp_path):
    folder = write_folder(tmp_path / "pairs", count=1, size=(224, 224))
    pairs = load_pairs(read_pairs_folder(folder / "ir", folder / "vi").records, progress=False)
    cfg = FusionTrainConfig(arch="official", batch_size=2, iterations=1, val_every=1)
    trainer = FusionTrainer(cfg, pairs, pairs, tmp_path, "cpu", progress=False)
    before = trainer.model.decoder.output[2].weight.detach().clone()
    values = trainer.step()
    assert trainer.crop == 224 and math.isfinite(values["total_loss"])
    assert not torch.equal(before, trainer.model.decoder.output[2].weight)


def test_cli_killed_and_resumed_from_the_previous_checkpoint_reproduces_the_losses(tmp_path):
    """SIGKILL after the second checkpoint; the latest is then truncated and a save fragment left
    beside it: --resume falls back to previous.pth and the losses equal the uninterrupted run's."""
    folder = write_folder(tmp_path / "pairs", count=4, size=(64, 80))
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}

    def command(out: Path) -> list[str]:
        return [sys.executable, str(ROOT / "tools" / "train_fusion.py"), "--ir",
                str(folder / "ir"), "--vis", str(folder / "vi"), "--arch", "tiny", "--crop", "32",
                "--batch-size", "2", "--iterations", "8", "--val-interval", "2",
                "--log-interval", "1", "--val-every-nth", "4", "--out", str(out), "--no-progress", "--device", "cpu"]  # fmt: skip

    def losses(out: Path) -> dict[int, float]:
        rows = [json.loads(x) for x in (out / "metrics.jsonl").read_text().splitlines()]
        return {r["iteration"]: r["total_loss"] for r in rows if "total_loss" in r}

    full = subprocess.run(command(tmp_path / "full"), env=env, capture_output=True, text=True)
    assert full.returncode == 0, full.stderr
    out = tmp_path / "killed"
    run = subprocess.Popen(command(out), env=env, stdout=subprocess.DEVNULL)
    deadline = time.monotonic() + 300
    while not (out / "previous.pth").is_file():
        assert run.poll() is None and time.monotonic() < deadline, "no second checkpoint"
        time.sleep(0.02)
    run.send_signal(signal.SIGKILL)
    run.wait()
    last = out / "last.pth"
    if last.is_file():  # (absent when the kill fell between moving it aside and the new save)
        last.write_bytes(last.read_bytes()[:1000])
    (out / ".last.pth.abc123.tmp").write_bytes(b"partial")
    resumed = subprocess.run(
        [*command(out), "--resume"], env=env, capture_output=True, text=True, timeout=600
    )
    assert resumed.returncode == 0, resumed.stderr
    assert "resuming from " + str(out / "previous.pth") in resumed.stderr
    assert "at iteration 2" in resumed.stdout
    expected, got = losses(tmp_path / "full"), losses(out)
    assert sorted(got) == sorted(expected) == list(range(1, 9))
    for iteration, value in expected.items():
        assert got[iteration] == pytest.approx(value, rel=1e-6), iteration


def test_selection_score_prefers_a_clean_image_over_it_plus_noise():
    from tsjnet_plugin.metrics.folders import read_gray
    from tsjnet_plugin.training.validation import QUALITY_METRICS, selection_score

    ir = read_gray(ROOT / "assets/samples/ir/00004N.png")[100:260, 200:400]
    vis = read_gray(ROOT / "assets/samples/vi/00004N.png")[100:260, 200:400]
    names = ("EN", "SD", "SF", "AG", "MI", "SCD", "VIF", "Qabf", "SSIM")
    reference = evaluate_fusion(np.maximum(ir, vis), ir, vis, names)
    # A clean fusion below the max on sharpness, and the same image with sensor-like noise.
    clean = np.round(0.55 * np.maximum(ir, vis) + 0.45 * (ir + vis) / 2)
    noise = np.random.default_rng(0).normal(0, 6, clean.shape)
    noisy = np.clip(np.round(clean + noise), 0, 255)
    clean_scores = evaluate_fusion(clean, ir, vis, names)
    noisy_scores = evaluate_fusion(noisy, ir, vis, names)
    assert noisy_scores["SF"] > clean_scores["SF"] and noisy_scores["AG"] > clean_scores["AG"]
    assert selection_score(clean_scores, reference) > selection_score(noisy_scores, reference)
    assert selection_score(reference, reference) == pytest.approx(1.0)

    def old_score(means):  # the mean ratio to the max that picked a noisy checkpoint before
        return np.mean([means[n] / reference[n] for n in QUALITY_METRICS])

    assert old_score(noisy_scores) > old_score(clean_scores)
