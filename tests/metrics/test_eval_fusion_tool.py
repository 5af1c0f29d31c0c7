"""Tests of folder evaluation (tsjnet_plugin.metrics.folders), reports, and tools/eval_fusion.py."""

import csv
import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tsjnet_plugin.metrics import METRIC_NAMES, evaluate_folders, evaluate_fusion, read_gray
from tsjnet_plugin.metrics.report import format_table, write_csv, write_json

REPO = Path(__file__).resolve().parents[2]
SIZE = (48, 52)  # H, W: large enough for VIF's 41x41 minimum


def save(path: Path, array: np.ndarray) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array.astype(np.uint8)).save(path)
    return path


@pytest.fixture
def dataset(tmp_path: Path) -> dict:
    """ir/ (gray PNG), vis/ (RGB PNG), max/ (PNG) and mean/ (BMP) for stems a, b."""
    rng = np.random.default_rng(0)
    arrays = {}
    for stem in ("a", "b"):
        ir = rng.integers(0, 256, SIZE)
        vis = read_gray(save(tmp_path / "vis" / f"{stem}.png", rng.integers(0, 256, (*SIZE, 3))))
        arrays[stem] = {"ir": ir, "vis": vis, "max": np.maximum(ir, vis), "mean": (ir + vis) // 2}
        save(tmp_path / "ir" / f"{stem}.png", ir)
        save(tmp_path / "max" / f"{stem}.png", arrays[stem]["max"])
        save(tmp_path / "mean" / f"{stem}.bmp", arrays[stem]["mean"])
    return {"root": tmp_path, "arrays": arrays}


def run_folders(root: Path, **kwargs) -> dict:
    methods = kwargs.pop("methods", {"max": root / "max", "mean": root / "mean"})
    return evaluate_folders(root / "ir", root / "vis", methods, **kwargs)


def test_read_gray_uses_bt601_luma_rounded(tmp_path):
    rgb = np.array([[[255, 0, 0], [0, 255, 0]], [[0, 0, 255], [10, 20, 30]]])
    # 76.245 -> 76, 149.685 -> 150, 29.07 -> 29, 2.99 + 11.74 + 3.42 = 18.15 -> 18
    expected = np.array([[76, 150], [29, 18]])
    np.testing.assert_array_equal(read_gray(save(tmp_path / "c.png", rgb)), expected)
    rgba = np.concatenate([rgb, np.full((2, 2, 1), 7)], axis=-1)
    np.testing.assert_array_equal(read_gray(save(tmp_path / "c4.png", rgba)), expected)


def test_read_gray_breaks_ties_like_opencv(tmp_path):
    # Exact lumas 59.5, 56.5, 52.5: OpenCV's float32 multiply-add order (checked with
    # opencv-python 4.8 and 5.0) gives 60, 57, 53, where the float64 formula gives 59 for the
    # first and exact rounding half to even gives 56 and 52 for the others.
    rgb = np.array([[[0, 80, 110], [1, 67, 148], [0, 84, 28]]])
    np.testing.assert_array_equal(read_gray(save(tmp_path / "t.png", rgb)), [[60, 57, 53]])


def test_read_gray_keeps_gray_levels(tmp_path):
    gray = np.array([[0, 17], [254, 255]])
    np.testing.assert_array_equal(read_gray(save(tmp_path / "g.png", gray)), gray)


def test_evaluate_folders_matches_per_image_evaluation(dataset):
    results = run_folders(dataset["root"])
    assert list(results) == ["max", "mean"]
    for method, result in results.items():
        assert list(result["per_image"]) == ["a", "b"]
        for stem, scores in result["per_image"].items():
            arrays = dataset["arrays"][stem]
            expected = evaluate_fusion(arrays[method], arrays["ir"], arrays["vis"])
            assert list(scores) == list(METRIC_NAMES)
            assert scores == pytest.approx(expected)
        for name in METRIC_NAMES:
            per_image = [scores[name] for scores in result["per_image"].values()]
            assert result["mean"][name] == pytest.approx(np.mean(per_image))


def test_evaluate_folders_leaves_non_finite_scores_out_of_the_mean(dataset):
    root = dataset["root"]
    save(root / "flat" / "a.png", np.full(SIZE, 128))  # constant: CC is NaN
    save(root / "flat" / "b.png", dataset["arrays"]["b"]["max"])
    result = run_folders(root, methods={"flat": root / "flat"}, metrics=("CC", "EN"))["flat"]
    assert np.isnan(result["per_image"]["a"]["CC"])
    assert result["mean"]["CC"] == pytest.approx(result["per_image"]["b"]["CC"])
    assert result["mean"]["EN"] == pytest.approx(
        np.mean([scores["EN"] for scores in result["per_image"].values()])
    )


def test_evaluate_folders_metrics_options_and_progress(dataset):
    seen = []

    def progress(stems):
        seen.extend(stems)
        return stems

    results = run_folders(
        dataset["root"], metrics=("SSIM", "MI"), options={"MI": {"base": 2}}, progress=progress
    )
    assert seen == ["a", "b"]
    arrays = dataset["arrays"]["a"]
    expected = evaluate_fusion(
        arrays["max"], arrays["ir"], arrays["vis"], ("SSIM", "MI"), MI={"base": 2}
    )
    assert results["max"]["per_image"]["a"] == pytest.approx(expected)


def test_stems_missing_from_a_folder_are_skipped_with_a_warning(dataset):
    root = dataset["root"]
    (root / "mean" / "b.bmp").unlink()
    with pytest.warns(UserWarning, match=r"skipping 1 .*\['b'\]"):
        results = run_folders(root, metrics=("EN",))
    assert list(results["max"]["per_image"]) == ["a"]


@pytest.mark.parametrize(
    ("breakage", "match"),
    [
        ("empty", r"no image files .* in folder .*empty"),
        ("missing", "not a directory: .*nowhere"),
        ("no_common", "no file stem is present in all folders"),
        ("size", r"size mismatch: .*max.a\.png is 40x30"),
        ("unreadable", r"cannot read image .*max.a\.png"),
        ("sixteen_bit", r"max.a\.png .* expected 8-bit"),
        ("duplicate", r"two images with stem 'a'"),
    ],
)
def test_folder_errors_name_the_folder_or_file(dataset, breakage, match):
    root = dataset["root"]
    methods = {"max": root / "max"}
    if breakage == "empty":
        (root / "empty").mkdir()
        (root / "empty" / "notes.txt").write_text("no images here")
        methods = {"max": root / "empty"}
    elif breakage == "missing":
        methods = {"max": root / "nowhere"}
    elif breakage == "no_common":
        for stem in ("a", "b"):
            (root / "max" / f"{stem}.png").rename(root / "max" / f"other_{stem}.png")
    elif breakage == "size":
        save(root / "max" / "a.png", np.zeros((30, 40)))
    elif breakage == "unreadable":
        (root / "max" / "a.png").write_bytes(b"this is not a PNG")
    elif breakage == "sixteen_bit":
        Image.fromarray(np.full(SIZE, 1000, dtype=np.uint16)).save(root / "max" / "a.png")
    elif breakage == "duplicate":
        save(root / "max" / "a.jpg", np.zeros(SIZE))
    with pytest.raises(ValueError, match=match):
        run_folders(root, methods=methods, metrics=("EN",))


def test_metric_errors_name_the_fused_file(tmp_path):
    for folder in ("ir", "vis", "fused"):
        save(tmp_path / folder / "small.png", np.arange(30 * 30).reshape(30, 30) % 256)
    with pytest.raises(ValueError, match=r"evaluating .*fused.small\.png: VIF needs .* 41x41"):
        evaluate_folders(tmp_path / "ir", tmp_path / "vis", {"m": tmp_path / "fused"})


def test_unknown_metric_fails_before_reading(dataset):
    with pytest.raises(ValueError, match="unknown metric 'NIQE'"):
        run_folders(dataset["root"], metrics=("NIQE",))
    with pytest.raises(ValueError, match="fused_dirs is empty"):
        run_folders(dataset["root"], methods={})


def test_reports_json_csv_table(dataset, tmp_path):
    root = dataset["root"]
    results = run_folders(root, methods={"max": root / "max", "ir": root / "ir"})
    json_path = write_json(results, tmp_path / "r.json")
    data = json.loads(json_path.read_text())
    assert list(data) == ["max", "ir"]
    assert list(data["max"]["mean"]) == list(METRIC_NAMES)
    assert list(data["max"]["per_image"]["b"]) == list(METRIC_NAMES)
    assert data["max"]["mean"]["EN"] == pytest.approx(results["max"]["mean"]["EN"])

    results["ir"]["mean"]["PSNR"] = float("inf")  # as for identical images
    data = json.loads(write_json(results, tmp_path / "inf.json").read_text())
    assert data["ir"]["mean"]["PSNR"] is None

    with write_csv(results, tmp_path / "r.csv").open() as handle:
        rows = list(csv.reader(handle))
    assert rows[0] == ["method", "image", *METRIC_NAMES]
    assert [row[:2] for row in rows[1:]] == [
        ["max", "a"],
        ["max", "b"],
        ["max", "mean"],
        ["ir", "a"],
        ["ir", "b"],
        ["ir", "mean"],
    ]
    assert float(rows[3][2]) == pytest.approx(results["max"]["mean"]["EN"])

    table = format_table(results).splitlines()
    assert table[0].split() == ["method", *METRIC_NAMES]
    assert table[1].split()[0] == "max"
    assert float(table[1].split()[1]) == pytest.approx(results["max"]["mean"]["EN"], abs=1e-4)


def run_cli(*args: str) -> subprocess.CompletedProcess:
    paths = [str(REPO), *filter(None, [os.environ.get("PYTHONPATH")])]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(paths)}
    return subprocess.run(
        [sys.executable, str(REPO / "tools" / "eval_fusion.py"), *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )


def test_cli_writes_json_csv_png_and_prints_table(dataset, tmp_path):
    root = dataset["root"]
    prefix = tmp_path / "out" / "cmp"
    done = run_cli(
        "--ir", str(root / "ir"), "--vis", str(root / "vis"),
        "--fused", str(root / "max"), "--fused", str(root / "mean"),
        "--name", "Max", "--name", "Mean", "--out", str(prefix),
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[0].split() == ["method", *METRIC_NAMES]
    data = json.loads(prefix.with_suffix(".json").read_text())
    assert list(data) == ["Max", "Mean"]
    assert list(data["Mean"]["mean"]) == list(METRIC_NAMES)
    assert prefix.with_suffix(".csv").read_text().startswith("method,image,EN,")
    with Image.open(prefix.with_suffix(".png")) as chart:
        assert chart.format == "PNG" and chart.width > 300


def load_cli():
    spec = importlib.util.spec_from_file_location("eval_fusion", REPO / "tools" / "eval_fusion.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_cli_reports_errors_with_exit_code_2(dataset, tmp_path, capsys):
    root = dataset["root"]
    (root / "empty").mkdir()
    main = load_cli().main
    ir_vis = ["--ir", str(root / "ir"), "--vis", str(root / "vis"), "--out", str(tmp_path / "x")]
    assert main([*ir_vis, "--fused", str(root / "empty")]) == 2
    error = capsys.readouterr().err
    assert "no image files" in error and "empty" in error
    assert main([*ir_vis, "--fused", str(root / "max"), "--name", "a", "--name", "b"]) == 2
    assert "2 --name for 1 --fused" in capsys.readouterr().err
    assert main([*ir_vis, "--fused", str(root / "max"), "--fused", str(root / "max")]) == 2
    assert "unique" in capsys.readouterr().err
    assert not (tmp_path / "x.json").exists()


def test_crops_show_each_method_at_twice_the_size(dataset):
    from tsjnet_plugin.metrics.folders import crop_comparison

    root, arrays = dataset["root"], dataset["arrays"]
    methods = {"max": root / "max", "mean": root / "mean"}
    panels = crop_comparison(root / "ir", root / "vis", methods, [("b", (4, 6, 20, 10))])
    assert [title for title, _ in panels] == [
        f"b {name} (2x)" for name in ("IR", "visible", "per-pixel max", "max", "mean")
    ]
    np.testing.assert_array_equal(panels[0][1], arrays["b"]["ir"][6:16, 4:24])
    np.testing.assert_array_equal(panels[4][1], arrays["b"]["mean"][6:16, 4:24])
    with pytest.raises(ValueError, match="leaves the 52x48"):
        crop_comparison(root / "ir", root / "vis", methods, [("b", (40, 0, 20, 10))])
    with pytest.raises(ValueError, match="no image with that stem"):
        crop_comparison(root / "ir", root / "vis", methods, [("zz", (0, 0, 4, 4))])
    out = root / "report" / "cmp"
    command = [sys.executable, str(REPO / "tools/eval_fusion.py"), "--ir", str(root / "ir")]
    command += ["--vis", str(root / "vis"), "--fused", str(root / "max"), "--metrics", "EN"]
    result = subprocess.run(
        [*command, "--crop", "a:0,0,16,8", "--crop", "b:4,6,16,8", "--out", str(out)],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    assert result.returncode == 0, result.stderr
    picture = Image.open(out.with_name("cmp_crops.png"))
    # 4 panels a row (IR, visible, per-pixel max, max), 2 rows, each 32x16 plus a 14 px title.
    assert picture.size == (4 * 32, 2 * (16 + 14))
    bad = subprocess.run(
        [*command, "--crop", "a:0,0,16", "--out", str(out)],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    assert bad.returncode == 2 and "expected STEM:X,Y,W,H" in bad.stderr
