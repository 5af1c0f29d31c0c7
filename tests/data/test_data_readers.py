"""tsjnet_plugin/data/readers.py: each layout as a tiny fixture, and every bad-input case."""

from __future__ import annotations

import json
import logging

import numpy as np
import pytest

from tsjnet_plugin.data import (
    M3FD_CLASSES,
    MSRS_SEG_CLASSES,
    DatasetError,
    read_llvip,
    read_m3fd,
    read_msrs,
    read_pairs_folder,
    read_roadscene,
    read_tno,
)

# A 10 x 16 box centred at (20, 16) of the 40 x 32 (W x H) image, in YOLO and xyxy form.
YOLO_BOX = "0.5 0.5 0.25 0.5"
XYXY_BOX = [15.0, 8.0, 25.0, 24.0]


def _msrs_images(layout, stems=("00001D", "00002N"), split="train", seg=True):
    for stem in stems:
        layout.pair(f"{split}/ir", f"{split}/vi", stem)
        if seg:
            layout.seg(f"{split}/Segmentation_labels/{stem}.png")


def test_msrs_yolo(layout):
    _msrs_images(layout)
    layout.text("train/labels/classes.txt", "car\nperson\nbike\n")
    layout.text("train/labels/00001D.txt", f"1 {YOLO_BOX}\n\n2 0.1 0.1 0.1 0.1\n")
    dataset = read_msrs(layout.root)
    assert dataset.name == "msrs_train" and len(dataset) == 2
    assert dataset.thing_classes == ("car", "person", "bike")
    assert dataset.thing_dataset_ids is None
    assert dataset.stuff_classes == MSRS_SEG_CLASSES and len(dataset.stuff_classes) == 9
    first, second = dataset.records
    assert first.sample_id == "00001D"
    assert first.ir_path == str(layout.root / "train/ir/00001D.png")
    assert first.vis_path == str(layout.root / "train/vi/00001D.png")
    assert first.seg_path == str(layout.root / "train/Segmentation_labels/00001D.png")
    assert (first.height, first.width) == (32, 40)
    assert first.boxes.dtype == np.float32 and first.labels.dtype == np.int64
    np.testing.assert_allclose(first.boxes, [XYXY_BOX, [2.0, 1.6, 6.0, 4.8]], atol=1e-5)
    np.testing.assert_array_equal(first.labels, [1, 2])
    assert second.boxes.shape == (0, 4) and second.labels.shape == (0,)


def test_msrs_voc_tsjnet_variant(layout):
    _msrs_images(layout, stems=("00003N",))
    coco_ids = {"person": 1, "bicycle": 2, "car": 3, "TV": 72, "motorcycle": 4}
    layout.text("MSRS_pascal_voc_classes.json", json.dumps(coco_ids))
    layout.voc("Annotation/00003N.xml", [("car", *XYXY_BOX), ("TV", 0, 0, 40, 32)])
    dataset = read_msrs(layout.root, "train", name="msrs_tsj")
    assert dataset.name == "msrs_tsj"
    assert dataset.thing_classes == ("person", "bicycle", "car", "motorcycle", "TV")
    assert dataset.thing_dataset_ids == (1, 2, 3, 4, 72)
    (record,) = dataset.records
    np.testing.assert_array_equal(record.boxes, [XYXY_BOX, [0, 0, 40, 32]])
    np.testing.assert_array_equal(record.labels, [2, 4])


def test_msrs_voc_split_annotations_and_seg_classes_file(layout):
    _msrs_images(layout, stems=("a",), split="test")
    layout.text("classes.json", json.dumps(["person", "car"]))
    layout.text("seg_classes.txt", "background\nperson\ncar\n")
    layout.voc("test/Annotations/a.xml", [("person", 1, 2, 3, 4)])
    dataset = read_msrs(layout.root, "test")
    assert dataset.name == "msrs_test"
    assert dataset.thing_classes == ("person", "car")
    assert dataset.stuff_classes == ("background", "person", "car")
    np.testing.assert_array_equal(dataset.records[0].labels, [0])


def test_msrs_fusion_only(layout):
    _msrs_images(layout, seg=False)
    layout.voc("Annotation/00001D.xml", [("person", 1, 2, 3, 4)])
    dataset = read_msrs(layout.root, det_format="none")
    assert dataset.thing_classes == ()
    assert all(r.boxes is None and r.labels is None and r.seg_path is None for r in dataset)


def test_msrs_explicit_format_without_labels_raises(layout):
    _msrs_images(layout)
    with pytest.raises(DatasetError, match=r"det_format='yolo'.*labels"):
        read_msrs(layout.root, det_format="yolo")


def test_msrs_labels_without_class_file_raises(layout):
    _msrs_images(layout)
    layout.text("train/labels/00001D.txt", f"0 {YOLO_BOX}\n")
    with pytest.raises(DatasetError, match=r"labels.*class file.*classes.txt"):
        read_msrs(layout.root)


def test_m3fd_official_layout(layout):
    for stem in ("00000", "00001"):
        layout.pair("Ir", "Vis", stem)
    layout.voc("Annotation/00000.xml", [("People", *XYXY_BOX), ("Truck", 0, 0, 5, 5)])
    layout.voc("Annotation/00001.xml", [])
    dataset = read_m3fd(layout.root)
    assert dataset.name == "m3fd" and len(dataset) == 2
    assert dataset.thing_classes == M3FD_CLASSES
    assert dataset.stuff_classes == () and dataset.records[0].seg_path is None
    np.testing.assert_array_equal(dataset.records[0].labels, [0, 5])
    np.testing.assert_array_equal(dataset.records[0].boxes[0], XYXY_BOX)
    assert dataset.records[1].boxes.shape == (0, 4)


def test_m3fd_tardal_yolo_needs_class_file(layout):
    layout.pair("ir", "vi", "00000")
    layout.text("labels/00000.txt", f"3 {YOLO_BOX}\n")
    with pytest.raises(DatasetError, match=r"class file"):
        read_m3fd(layout.root)
    layout.text("classes.txt", "People\nCar\nBus\nLamp\nMotorcycle\nTruck\n")
    dataset = read_m3fd(layout.root)
    assert dataset.thing_classes[dataset.records[0].labels[0]] == "Lamp"


def test_llvip(layout):
    layout.pair("infrared/train", "visible/train", "010001", ext=".jpg")
    layout.pair("infrared/test", "visible/test", "190001", ext=".jpg")
    layout.voc("Annotations/010001.xml", [("person", *XYXY_BOX)])
    layout.voc("Annotations/190001.xml", [("person", 0, 0, 4, 4)])
    train, test = read_llvip(layout.root, "train"), read_llvip(layout.root, "test")
    assert (train.name, test.name) == ("llvip_train", "llvip_test")
    assert train.thing_classes == ("person",)
    assert [r.sample_id for r in train] == ["010001"]
    assert train.records[0].ir_path.endswith("infrared/train/010001.jpg")
    np.testing.assert_array_equal(test.records[0].boxes, [[0, 0, 4, 4]])


def test_pairs_folder_matches_stems_across_extensions(layout):
    layout.grey("ir/a.png")
    layout.rgb("vi/a.jpg")
    layout.grey("ir/b.BMP", size=(20, 24))
    layout.rgb("vi/b.tif", size=(20, 24))
    layout.text("ir/readme.txt", "not an image")
    layout.text("vi/.hidden.png", "not an image")
    dataset = read_pairs_folder(layout.root / "ir", layout.root / "vi", name="mine")
    assert dataset.name == "mine" and [r.sample_id for r in dataset] == ["a", "b"]
    assert (dataset[1].height, dataset[1].width) == (20, 24)
    assert dataset[0].vis_path.endswith("a.jpg")
    assert dataset.thing_classes == () and dataset[0].boxes is None


def test_roadscene_and_tno_layouts(layout):
    layout.pair("road/cropinfrared", "road/crop_LR_visible", "FLIR_00006", ext=".jpg")
    layout.pair("tno/IR", "tno/VIS", "01")
    assert read_roadscene(layout.root / "road")[0].sample_id == "FLIR_00006"
    assert read_tno(layout.root / "tno").name == "tno"
    with pytest.raises(DatasetError, match=r"road: no TNO infrared folder"):
        read_tno(layout.root / "road")


# ----------------------------------------------------------------------------- bad input


def test_missing_partner_raises_naming_the_file(layout):
    layout.pair("ir", "vi", "a")
    layout.grey("ir/b.png")
    with pytest.raises(DatasetError, match=r"ir/b.png: no visible partner with stem 'b'"):
        read_pairs_folder(layout.root / "ir", layout.root / "vi")
    layout.rgb("vi/c.png")
    with pytest.raises(DatasetError, match=r"ir/b.png"):
        read_pairs_folder(layout.root / "ir", layout.root / "vi")


def test_missing_partner_skip_mode_logs_and_skips(layout, caplog):
    layout.pair("ir", "vi", "a")
    layout.grey("ir/b.png")
    layout.rgb("vi/c.png")
    with caplog.at_level(logging.WARNING, logger="tsjnet_plugin.data"):
        dataset = read_pairs_folder(layout.root / "ir", layout.root / "vi", on_error="skip")
    assert [r.sample_id for r in dataset] == ["a"]
    assert "ir/b.png: no visible partner" in caplog.text
    assert "vi/c.png: no infrared partner" in caplog.text


def test_size_mismatch(layout, caplog):
    layout.grey("ir/a.png", size=(32, 40))
    layout.rgb("vi/a.png", size=(32, 41))
    layout.pair("ir", "vi", "b")
    with pytest.raises(DatasetError, match=r"vi/a.png: visible image is 41x32.*ir/a.png is 40x32"):
        read_pairs_folder(layout.root / "ir", layout.root / "vi")
    with caplog.at_level(logging.WARNING):
        dataset = read_pairs_folder(layout.root / "ir", layout.root / "vi", on_error="skip")
    assert [r.sample_id for r in dataset] == ["b"] and "vi/a.png" in caplog.text


def test_seg_label_mismatch_and_missing(layout):
    _msrs_images(layout, stems=("a",), seg=False)
    layout.seg("train/Segmentation_labels/a.png", size=(16, 40))
    with pytest.raises(
        DatasetError, match=r"Segmentation_labels/a.png: segmentation label is 40x16"
    ):
        read_msrs(layout.root)
    layout.pair("train/ir", "train/vi", "b")
    (layout.root / "train/Segmentation_labels/a.png").unlink()
    layout.seg("train/Segmentation_labels/b.png")
    with pytest.raises(DatasetError, match=r"Segmentation_labels: expected one .* 'a'"):
        read_msrs(layout.root)


@pytest.mark.parametrize("on_error", ["raise", "skip"])
def test_empty_or_missing_folder_always_raises(layout, on_error):
    (layout.root / "ir").mkdir()
    layout.text("ir/readme.txt", "no images here")
    layout.rgb("vi/a.png")
    with pytest.raises(DatasetError, match=r"/ir: no infrared images"):
        read_pairs_folder(layout.root / "ir", layout.root / "vi", on_error=on_error)
    with pytest.raises(DatasetError, match=r"/missing: visible folder does not exist"):
        read_pairs_folder(layout.root / "vi", layout.root / "missing", on_error=on_error)
    with pytest.raises(DatasetError, match=r"/nowhere: MSRS root folder does not exist"):
        read_msrs(layout.root / "nowhere", on_error=on_error)


def test_ambiguous_stem(layout):
    layout.pair("ir", "vi", "a")
    layout.grey("ir/a.jpg")
    with pytest.raises(DatasetError, match=r"/ir: 2 infrared images share the stem 'a'"):
        read_pairs_folder(layout.root / "ir", layout.root / "vi")


def _voc_layout(layout, objects_a, objects_b=(("person", 1, 1, 5, 5),)):
    _msrs_images(layout, stems=("a", "b"), seg=False)
    layout.text("classes.json", json.dumps({"person": 1, "car": 2}))
    layout.voc("train/Annotations/a.xml", objects_a)
    layout.voc("train/Annotations/b.xml", objects_b)


def test_box_outside_raises_naming_file_and_box(layout):
    _voc_layout(layout, [("person", 30, 20, 45, 30)])
    with pytest.raises(DatasetError, match=r"Annotations/a.xml: box \[30.0, 20.0, 45.0, 30.0\]"):
        read_msrs(layout.root)


def test_box_outside_clip(layout, caplog):
    _voc_layout(layout, [("person", 30, 20, 45, 30), ("car", 41, 0, 50, 5)])
    with caplog.at_level(logging.WARNING):
        dataset = read_msrs(layout.root, box_outside="clip")
    np.testing.assert_array_equal(dataset[0].boxes, [[30, 20, 40, 30]])
    np.testing.assert_array_equal(dataset[0].labels, [0])
    assert "a.xml: dropped 1 box(es)" in caplog.text


def test_box_outside_skip(layout, caplog):
    _voc_layout(layout, [("person", -3, 2, 10, 12)])
    with caplog.at_level(logging.WARNING):
        dataset = read_msrs(layout.root, on_error="skip")
    assert [r.sample_id for r in dataset] == ["b"] and "a.xml: box" in caplog.text


def test_empty_box_raises(layout):
    _voc_layout(layout, [("person", 10, 10, 10, 20)])
    with pytest.raises(DatasetError, match=r"a.xml: box .* is empty or outside"):
        read_msrs(layout.root)


def test_unknown_class_in_xml(layout, caplog):
    _voc_layout(layout, [("dragon", 1, 1, 5, 5)])
    with pytest.raises(DatasetError, match=r"a.xml: unknown class 'dragon'; known classes"):
        read_msrs(layout.root)
    with caplog.at_level(logging.WARNING):
        assert len(read_msrs(layout.root, on_error="skip")) == 1
    assert "dragon" in caplog.text


def test_unknown_class_index_in_yolo(layout):
    _msrs_images(layout, stems=("a",))
    layout.text("classes.txt", "person\n")
    layout.text("train/labels/a.txt", f"3 {YOLO_BOX}\n")
    with pytest.raises(DatasetError, match=r"labels/a.txt:1: unknown class index 3; expected 0..0"):
        read_msrs(layout.root)


def test_malformed_label_files(layout):
    _voc_layout(layout, [])
    layout.text("train/Annotations/a.xml", "<annotation><object>")
    with pytest.raises(DatasetError, match=r"a.xml: not a readable XML"):
        read_msrs(layout.root)
    layout.voc("train/Annotations/a.xml", [("person", "x", 1, 2, 3)])
    with pytest.raises(DatasetError, match=r"a.xml: object 'person' needs a bndbox"):
        read_msrs(layout.root)
    (layout.root / "train/Annotations/a.xml").unlink()
    with pytest.raises(DatasetError, match=r"a.xml: annotation file does not exist"):
        read_msrs(layout.root)


def test_malformed_yolo_line(layout):
    _msrs_images(layout, stems=("a",))
    layout.text("classes.txt", "person\n")
    layout.text("train/labels/a.txt", "0 0.5 0.5\n")
    with pytest.raises(DatasetError, match=r"labels/a.txt:1: expected 'class cx cy w h'"):
        read_msrs(layout.root)


def test_nothing_left_after_skipping_raises(layout):
    _voc_layout(layout, [("dragon", 1, 1, 5, 5)], [("dragon", 1, 1, 5, 5)])
    with pytest.raises(DatasetError, match=r"msrs_train: no usable sample"):
        read_msrs(layout.root, on_error="skip")


def test_unknown_options_list_choices(layout):
    layout.pair("ir", "vi", "a")
    with pytest.raises(ValueError, match=r"on_error must be one of \['raise', 'skip'\]"):
        read_pairs_folder(layout.root / "ir", layout.root / "vi", on_error="ignore")
    with pytest.raises(ValueError, match=r"det_format must be one of"):
        read_llvip(layout.root, det_format="yolo")


def test_yolo_parser_accepts_the_quirks_of_real_files_and_names_bad_lines(tmp_path):
    from tsjnet_plugin.data.labels import read_yolo_boxes

    quirky = tmp_path / "quirky.txt"
    # Several spaces and a tab between fields, trailing spaces, a blank line, no final newline.
    quirky.write_text("0  0.5  0.5  0.2  0.4  \n\n2\t0.25 0.75 0.1 0.2   ")
    boxes, labels = read_yolo_boxes(quirky, 3, height=100, width=200)
    assert labels.tolist() == [0, 2]
    assert boxes.ravel().tolist() == pytest.approx([80, 30, 120, 70, 40, 65, 60, 85])
    empty = tmp_path / "empty.txt"
    empty.write_text("")
    boxes, labels = read_yolo_boxes(empty, 3, height=100, width=200)
    assert boxes.shape == (0, 4) and labels.shape == (0,)
    broken = tmp_path / "broken.txt"
    broken.write_text("0 0.5 0.5 0.2 0.4\n1 0.5 0.5 0.2 wide\n")
    with pytest.raises(DatasetError, match=r"broken.txt:2: expected 'class cx cy w h'"):
        read_yolo_boxes(broken, 3, height=100, width=200)
    broken.write_text("0 0.5 0.5 0.2 0.4 0.9\n")
    with pytest.raises(DatasetError, match=r"broken.txt:1: expected"):
        read_yolo_boxes(broken, 3, height=100, width=200)
    broken.write_text("1.5 0.5 0.5 0.2 0.4\n")
    with pytest.raises(DatasetError, match=r"broken.txt:1: expected"):
        read_yolo_boxes(broken, 3, height=100, width=200)
