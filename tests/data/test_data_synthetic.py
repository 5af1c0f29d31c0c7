"""tsjnet_plugin/data/synthetic.py: determinism, label consistency, modality design, and the
MSRS-layout writer."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from tsjnet_plugin.data import (
    SYNTHETIC_STUFF_CLASSES,
    SYNTHETIC_THING_CLASSES,
    DatasetError,
    generate_scene,
    read_ir,
    read_msrs,
    read_seg_label,
    read_visible,
    write_synthetic_msrs,
)

SEEDS = range(6)
WARM = {SYNTHETIC_THING_CLASSES.index("person"), SYNTHETIC_THING_CLASSES.index("car")}
COLD = {SYNTHETIC_THING_CLASSES.index("bike")}


def _luma(vis: np.ndarray) -> np.ndarray:
    """[H, W, 3] uint8 RGB -> [H, W] BT.601 luma in [0, 1]."""
    return vis.astype(np.float32) @ np.array([0.299, 0.587, 0.114], np.float32) / 255


def _entropy(image: np.ndarray) -> float:
    counts = np.bincount(np.round(image * 255).astype(int).ravel(), minlength=256)
    p = counts[counts > 0] / counts.sum()
    return float(-(p * np.log2(p)).sum())


def _average_gradient(image: np.ndarray) -> float:
    gx, gy = np.diff(image, axis=1)[:-1], np.diff(image, axis=0)[:, :-1]
    return float(np.sqrt((gx**2 + gy**2) / 2).mean())


def _target_contrast(image: np.ndarray, scene, index: int) -> float:
    """|mean inside the object mask - mean of the background in a 4-pixel ring around its box|."""
    x1, y1, x2, y2 = scene.boxes[index].astype(int)
    in_box = np.zeros(image.shape, bool)
    in_box[y1:y2, x1:x2] = True
    ring = np.zeros(image.shape, bool)
    ring[max(y1 - 4, 0) : y2 + 4, max(x1 - 4, 0) : x2 + 4] = True
    ring &= ~in_box & (scene.seg == 0)
    inside = in_box & (scene.seg == scene.labels[index] + 1)
    return abs(float(image[inside].mean() - image[ring].mean()))


def _background_detail(image: np.ndarray, scene) -> float:
    """Mean |Laplacian| over background pixels: fine texture."""
    lap = 4 * image[1:-1, 1:-1] - image[:-2, 1:-1] - image[2:, 1:-1]
    lap = lap - image[1:-1, :-2] - image[1:-1, 2:]
    return float(np.abs(lap)[scene.seg[1:-1, 1:-1] == 0].mean())


def test_scene_shapes_dtypes_and_ranges():
    scene = generate_scene(0, 64, 96, num_objects=3)
    assert scene.ir.shape == (64, 96) and scene.ir.dtype == np.float32
    assert 0 <= scene.ir.min() and scene.ir.max() <= 1
    np.testing.assert_allclose(scene.ir * 255, np.round(scene.ir * 255), atol=1e-3)
    assert scene.vis.shape == (64, 96, 3) and scene.vis.dtype == np.uint8
    assert scene.seg.shape == (64, 96) and scene.seg.dtype == np.uint8
    assert scene.seg.max() < len(SYNTHETIC_STUFF_CLASSES)
    assert scene.boxes.dtype == np.float32 and scene.boxes.shape == (len(scene.labels), 4)
    assert scene.labels.dtype == np.int64 and 2 <= len(scene.labels) <= 3


def test_same_seed_same_bytes_and_generator_advances():
    first, second = generate_scene(7), generate_scene(7)
    for field in ("ir", "vis", "seg", "boxes", "labels"):
        assert getattr(first, field).tobytes() == getattr(second, field).tobytes()
    assert generate_scene(8).vis.tobytes() != first.vis.tobytes()
    rng = np.random.default_rng(7)
    assert generate_scene(rng).vis.tobytes() == first.vis.tobytes()
    assert generate_scene(rng).vis.tobytes() != first.vis.tobytes()


@pytest.mark.parametrize("seed", SEEDS)
def test_boxes_are_tight_around_masks(seed):
    scene = generate_scene(seed)
    covered = np.zeros(scene.seg.shape, bool)
    for box, label in zip(scene.boxes.astype(int), scene.labels):
        x1, y1, x2, y2 = box
        window = scene.seg[y1:y2, x1:x2]
        assert set(np.unique(window)) <= {0, label + 1}
        mine = window == label + 1
        assert mine[0].any() and mine[-1].any() and mine[:, 0].any() and mine[:, -1].any()
        covered[y1:y2, x1:x2] |= mine
    np.testing.assert_array_equal(covered, scene.seg > 0)
    assert WARM & set(scene.labels.tolist()) and COLD & set(scene.labels.tolist())


def test_bad_arguments():
    with pytest.raises(ValueError, match=r"at least 32x32"):
        generate_scene(0, 16, 160)
    with pytest.raises(ValueError, match=r"num_objects must be >= 2"):
        generate_scene(0, num_objects=1)


def test_max_fusion_has_more_information_than_either_source():
    entropy = {"ir": [], "vis": [], "fused": []}
    gradient = {"ir": [], "vis": [], "fused": []}
    for seed in SEEDS:
        scene = generate_scene(seed)
        luma = _luma(scene.vis)
        for key, image in (("ir", scene.ir), ("vis", luma), ("fused", np.maximum(scene.ir, luma))):
            entropy[key].append(_entropy(image))
            gradient[key].append(_average_gradient(image))
    mean = {key: float(np.mean(values)) for key, values in entropy.items()}
    assert mean["fused"] > max(mean["ir"], mean["vis"])
    mean = {key: float(np.mean(values)) for key, values in gradient.items()}
    assert mean["fused"] > max(mean["ir"], mean["vis"])


def test_each_modality_misses_what_the_other_shows():
    warm, cold, detail = [], [], []
    for seed in SEEDS:
        scene = generate_scene(seed, lighting="night")
        assert not scene.daylight
        luma = _luma(scene.vis)
        for index, label in enumerate(scene.labels.tolist()):
            pair = (_target_contrast(scene.ir, scene, index), _target_contrast(luma, scene, index))
            (warm if label in WARM else cold).append(pair)
        detail.append((_background_detail(scene.ir, scene), _background_detail(luma, scene)))
    warm_ir, warm_vis = np.mean(warm, axis=0)
    cold_ir, cold_vis = np.mean(cold, axis=0)
    detail_ir, detail_vis = np.mean(detail, axis=0)
    assert warm_ir > 0.3 and warm_vis < 0.2 * warm_ir  # visible-only misses warm targets
    assert cold_ir < 0.02 and cold_vis > 5 * cold_ir  # IR-only misses cold objects
    assert detail_vis > 2 * detail_ir  # IR-only misses background texture


def test_day_night_scenes_hide_each_object_from_one_modality():
    """Night: people and cars only in IR, bikes only in visible. Day: every object in visible;
    in IR cars and bikes at ground temperature, people warm."""
    contrast: dict[tuple[bool, str], list[tuple[float, float]]] = {}
    for seed in range(12):
        scene = generate_scene(seed)
        luma = _luma(scene.vis)
        for index, label in enumerate(scene.labels.tolist()):
            pair = (_target_contrast(scene.ir, scene, index), _target_contrast(luma, scene, index))
            contrast.setdefault((scene.daylight, SYNTHETIC_THING_CLASSES[label]), []).append(pair)
    assert {day for day, _ in contrast} == {False, True}
    mean = {key: np.mean(values, axis=0) for key, values in contrast.items()}
    for name in ("person", "car"):
        ir, vis = mean[(False, name)]
        assert ir > 0.3 and vis < 0.03  # night: visible-only misses warm targets
    ir, vis = mean[(False, "bike")]
    assert ir < 0.01 and vis > 0.2  # night: IR-only misses bikes
    for name in ("car", "bike"):
        ir, vis = mean[(True, name)]
        assert ir < 0.01 and vis > 0.3  # day: IR-only misses cars and bikes (crossover)
    ir, vis = mean[(True, "person")]
    assert 0.1 < ir < mean[(False, "person")][0] and vis > 0.3


def test_lighting_is_checked_and_recorded(tmp_path):
    with pytest.raises(ValueError, match=r"lighting must be one of"):
        generate_scene(0, lighting="dusk")
    root = write_synthetic_msrs(tmp_path / "night", 1, 1, 32, 40, lighting="night")
    assert json.loads((root / "synthetic.json").read_text())["lighting"] == "night"
    night = np.asarray(Image.open(root / "train" / "vi" / "00000.png"))
    np.testing.assert_array_equal(night, generate_scene(0, 32, 40, lighting="night").vis)
    write_synthetic_msrs(root, 1, 1, 32, 40)  # another lighting rewrites the folder
    assert json.loads((root / "synthetic.json").read_text())["lighting"] == "day_night"


def test_write_and_read_msrs_round_trip(tmp_path):
    root = write_synthetic_msrs(
        tmp_path / "syn", num_train=3, num_test=2, height=48, width=64, seed=5
    )
    train, test = read_msrs(root, "train"), read_msrs(root, "test")
    assert (len(train), len(test)) == (3, 2)
    assert train.thing_classes == SYNTHETIC_THING_CLASSES
    assert train.thing_dataset_ids == (1, 2, 3)
    assert train.stuff_classes == SYNTHETIC_STUFF_CLASSES
    rng = np.random.default_rng(5)
    for record in train:
        scene = generate_scene(rng, 48, 64)
        assert (record.height, record.width) == (48, 64)
        np.testing.assert_array_equal(read_ir(record.ir_path), scene.ir)
        np.testing.assert_array_equal(read_visible(record.vis_path), scene.vis)
        seg = read_seg_label(record.seg_path, len(train.stuff_classes))
        np.testing.assert_array_equal(seg, scene.seg)
        np.testing.assert_array_equal(record.boxes, scene.boxes)
        np.testing.assert_array_equal(record.labels, scene.labels)


def test_writer_is_deterministic_and_idempotent(tmp_path):
    first = write_synthetic_msrs(tmp_path / "a", 2, 1, 32, 40, seed=1)
    second = write_synthetic_msrs(tmp_path / "b", 2, 1, 32, 40, seed=1)
    files = sorted(p.relative_to(first) for p in first.rglob("*") if p.is_file())
    assert files == sorted(p.relative_to(second) for p in second.rglob("*") if p.is_file())
    for relative in files:
        assert (first / relative).read_bytes() == (second / relative).read_bytes()
    assert json.loads((first / "synthetic.json").read_text())["seed"] == 1

    marker = first / "train" / "marker.txt"
    marker.write_text("reused")
    assert write_synthetic_msrs(first, 2, 1, 32, 40, seed=1) == first
    assert marker.exists()
    # Other parameters: a folder holding a file the writer did not write is refused, kept.
    with pytest.raises(DatasetError, match=r"holds files it did not write \(train/marker.txt\)"):
        write_synthetic_msrs(first, 3, 1, 32, 40, seed=1)
    assert marker.read_text() == "reused" and len(read_msrs(first)) == 2
    # Only its own files (and a preview): replaced.
    marker.unlink()
    (first / "preview.png").write_bytes(b"")
    write_synthetic_msrs(first, 3, 1, 32, 40, seed=1)
    assert len(read_msrs(first)) == 3 and not (first / "preview.png").exists()


def test_reusing_a_set_writes_nothing(tmp_path):
    """A read-only datasets root must not break a run: reuse creates no `.synthetic-*` folder."""
    root = write_synthetic_msrs(tmp_path / "datasets" / "synthetic", 1, 1, 32, 40)
    before = {p: p.stat().st_mtime_ns for p in root.rglob("*")}
    assert write_synthetic_msrs(root, 1, 1, 32, 40) == root
    assert sorted(p.name for p in (tmp_path / "datasets").iterdir()) == ["synthetic"]
    assert {p: p.stat().st_mtime_ns for p in root.rglob("*")} == before


def test_writer_refuses_foreign_folder(tmp_path):
    (tmp_path / "mine.txt").write_text("user data")
    with pytest.raises(DatasetError, match=r"not an empty folder and holds no synthetic.json"):
        write_synthetic_msrs(tmp_path, 1, 1, 32, 40)
    assert (tmp_path / "mine.txt").exists()
