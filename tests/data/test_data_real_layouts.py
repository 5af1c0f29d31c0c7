"""Readers on tiny copies of the real datasets' trees: the folder and file names and the label
formats of the MSRS, M3FD, LLVIP releases and of CDDFuse's TNO / RoadScene test sets.

Sources of the layouts: MSRS (Linfeng-Tang/MSRS: `{train,test}/{ir,vi,Segmentation_labels}`,
names like `00001D.png` / `00004N.png` for day / night, labels 0..8) with TSJNet's detection
labels (XylonXu01/TSJNet: root `Annotation/<stem>.xml` in labelImg's VOC format and
`MSRS_pascal_voc_classes.json` mapping names to COCO ids); M3FD_Detection (`Ir/`, `Vis/`,
`Annotation/`, `00000.png` ...; 6 classes); LLVIP (`infrared/{train,test}`,
`visible/{train,test}`, `Annotations/`, `010001.jpg` ... in train and `190001.jpg` ... in test;
IR stored as 3-channel JPEG; class `person`); CDDFuse `test_img/{TNO,RoadScene}/{ir,vi}` (TNO
visible is grey).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tsjnet_plugin.data import (
    M3FD_CLASSES,
    MSRS_SEG_CLASSES,
    read_dataset,
    read_ir,
    read_llvip,
    read_m3fd,
    read_msrs,
    read_roadscene,
    read_seg_label,
    read_tno,
    read_visible,
)
from tsjnet_plugin.data.readers import M3FD_TEST_EVERY

H, W = 24, 32


def _save(path: Path, array: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array).save(path)


def _grey(seed: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (H, W), dtype=np.uint8)


def _rgb(seed: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (H, W, 3), dtype=np.uint8)


def _labelimg_xml(path: Path, filename: str, objects: list[tuple[str, int, int, int, int]]):
    """A VOC file as labelImg writes it (the format of M3FD, LLVIP and TSJNet's MSRS boxes)."""
    parts = "".join(
        f"<object><name>{name}</name><pose>Unspecified</pose><truncated>0</truncated>"
        f"<difficult>0</difficult><bndbox><xmin>{x1}</xmin><ymin>{y1}</ymin><xmax>{x2}</xmax>"
        f"<ymax>{y2}</ymax></bndbox></object>"
        for name, x1, y1, x2, y2 in objects
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        f'<?xml version="1.0" ?>\n<annotation><folder>{path.parent.name}</folder>'
        f"<filename>{filename}</filename><path>/data/{filename}</path><source><database>"
        f"Unknown</database></source><size><width>{W}</width><height>{H}</height><depth>3"
        f"</depth></size><segmented>0</segmented>{parts}</annotation>\n"
    )


@pytest.fixture(scope="module")
def msrs(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("MSRS")
    splits = {"train": ["00001D", "00002N", "00003D"], "test": ["00004N", "00005D"]}
    for split, stems in splits.items():
        for index, stem in enumerate(stems):
            _save(root / split / "ir" / f"{stem}.png", _grey(index))
            _save(root / split / "vi" / f"{stem}.png", _rgb(index))
            label = np.zeros((H, W), np.uint8)
            label[2:8, 3:9] = 2  # person
            label[10:20, 12:30] = 1  # car
            label[20:, :4] = 8  # bump
            _save(root / split / "Segmentation_labels" / f"{stem}.png", label)
            _labelimg_xml(
                root / "Annotation" / f"{stem}.xml",
                f"{stem}.png",
                [("person", 3, 2, 9, 8), ("car", 12, 10, 30, 20)],
            )
        (root / "Main").mkdir(exist_ok=True)
        (root / "Main" / f"{split}.txt").write_text("".join(s + "\n" for s in stems))
    classes = {"person": 1, "bicycle": 2, "car": 3, "motorcycle": 4, "stop sign": 13}
    (root / "MSRS_pascal_voc_classes.json").write_text(json.dumps(classes, indent=4))
    return root


def test_msrs_release_with_tsjnet_boxes(msrs):
    train, test = read_msrs(msrs, "train"), read_msrs(msrs, "test")
    assert [r.sample_id for r in train] == ["00001D", "00002N", "00003D"]
    assert [r.sample_id for r in test] == ["00004N", "00005D"]
    assert train.thing_classes == ("person", "bicycle", "car", "motorcycle", "stop sign")
    assert train.thing_dataset_ids == (1, 2, 3, 4, 13)
    assert train.stuff_classes == MSRS_SEG_CLASSES
    record = test[0]
    assert record.ir_path.endswith("test/ir/00004N.png")
    assert record.vis_path.endswith("test/vi/00004N.png")
    assert record.seg_path.endswith("test/Segmentation_labels/00004N.png")
    np.testing.assert_array_equal(record.labels, [0, 2])
    np.testing.assert_array_equal(record.boxes, [[3, 2, 9, 8], [12, 10, 30, 20]])
    seg = read_seg_label(record.seg_path, len(train.stuff_classes))
    assert seg.shape == (H, W) and set(np.unique(seg)) == {0, 1, 2, 8}
    assert read_ir(record.ir_path).shape == (H, W)
    assert read_visible(record.vis_path).shape == (H, W, 3)


@pytest.fixture(scope="module")
def m3fd(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("M3FD")
    for index in range(23):
        stem = f"{index:05d}"
        _save(root / "Ir" / f"{stem}.png", _grey(index))
        _save(root / "Vis" / f"{stem}.png", _rgb(index))
        cls = M3FD_CLASSES[index % len(M3FD_CLASSES)]
        _labelimg_xml(root / "Annotation" / f"{stem}.xml", f"{stem}.png", [(cls, 1, 1, 9, 7)])
    return root


def test_m3fd_release_and_its_deterministic_split(m3fd):
    everything = read_m3fd(m3fd)
    train, test = read_m3fd(m3fd, "train"), read_m3fd(m3fd, "test")
    assert (everything.name, train.name, test.name) == ("m3fd", "m3fd_train", "m3fd_test")
    assert M3FD_TEST_EVERY == 10
    assert [r.sample_id for r in test] == ["00009", "00019"]
    ids = {r.sample_id for r in train}
    assert len(ids) == 21 and not ids & {"00009", "00019"}
    assert ids | {"00009", "00019"} == {r.sample_id for r in everything}
    assert test.thing_classes == M3FD_CLASSES
    # 00009: class index 9 % 6 = 3 (Motorcycle), box as written
    assert test[0].labels.tolist() == [3] and test[0].boxes.tolist() == [[1, 1, 9, 7]]
    assert [r.sample_id for r in read_dataset("m3fd", m3fd, "test")] == ["00009", "00019"]
    assert len(read_dataset("m3fd", m3fd)) == 23
    with pytest.raises(ValueError, match="split must be one of"):
        read_m3fd(m3fd, "val")


def test_m3fd_split_ignores_skipped_samples(m3fd, tmp_path):
    """The split is by file name: a sample skipped for a bad label moves no other sample."""
    copy = tmp_path / "M3FD"
    for sub in ("Ir", "Vis", "Annotation"):
        (copy / sub).mkdir(parents=True)
        for path in (m3fd / sub).iterdir():
            (copy / sub / path.name).write_bytes(path.read_bytes())
    (copy / "Annotation" / "00003.xml").write_text("<annotation><broken>")
    test = read_m3fd(copy, "test", on_error="skip")
    assert [r.sample_id for r in test] == ["00009", "00019"]
    assert len(read_m3fd(copy, "train", on_error="skip")) == 20


def test_llvip_release(tmp_path):
    root = tmp_path / "LLVIP"
    for split, stems in (("train", ["010001", "010002"]), ("test", ["190001"])):
        for index, stem in enumerate(stems):
            grey = _grey(index)
            _save(root / "infrared" / split / f"{stem}.jpg", np.stack([grey] * 3, -1))
            _save(root / "visible" / split / f"{stem}.jpg", _rgb(index))
            _labelimg_xml(
                root / "Annotations" / f"{stem}.xml", f"{stem}.jpg", [("person", 4, 3, 14, 21)]
            )
    train, test = read_llvip(root, "train"), read_llvip(root, "test")
    assert [r.sample_id for r in train] == ["010001", "010002"]
    assert [r.sample_id for r in test] == ["190001"]
    assert test.thing_classes == ("person",)
    np.testing.assert_array_equal(test[0].boxes, [[4, 3, 14, 21]])
    with pytest.warns(UserWarning, match="190001.jpg"):
        ir = read_ir(test[0].ir_path)  # LLVIP's IR JPEGs have three channels: made grey
    assert ir.shape == (H, W)


@pytest.mark.parametrize(
    ("reader", "folder", "stems", "grey_visible"),
    [
        (read_tno, "TNO", ["01", "02", "10"], True),
        (read_roadscene, "RoadScene", ["FLIR_00006", "FLIR_00977"], False),
    ],
)
def test_cddfuse_test_img_layouts(tmp_path, reader, folder, stems, grey_visible):
    root = tmp_path / "test_img" / folder
    for index, stem in enumerate(stems):
        _save(root / "ir" / f"{stem}.png", _grey(index))
        _save(root / "vi" / f"{stem}.png", _grey(index + 7) if grey_visible else _rgb(index))
    dataset = reader(root)
    assert [r.sample_id for r in dataset] == stems
    assert dataset[0].boxes is None and dataset[0].seg_path is None
    assert read_visible(dataset[0].vis_path).shape == (H, W, 3)
