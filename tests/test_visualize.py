"""Report pictures: detections, segmentation overlays, grids, loss curves."""

import json

import numpy as np
import pytest
from PIL import Image

from tsjnet_plugin.loss_names import loss_group
from tsjnet_plugin.visualize import (
    draw_detections,
    make_grid,
    overlay_segmentation,
    plot_loss_curves,
    read_metrics_json,
)


def test_draw_detections_draws_only_confident_boxes():
    image = np.zeros((40, 50, 3), np.uint8)
    out = draw_detections(
        image, np.array([[5, 5, 20, 30], [25, 5, 45, 30]]), [0, 1], [0.9, 0.1], ["a", "b"]
    )
    assert out[5, 10].any() and out[30, 10].any()  # top and bottom edges of the confident box
    assert not out[30, 35].any()  # the low-score box is not drawn
    assert not image.any()  # input untouched


def test_overlay_keeps_background_and_ignored_pixels():
    image = np.full((4, 4, 3), 100, np.uint8)
    labels = np.array([[0, 1, 2, 255]] * 4)
    out = overlay_segmentation(image, labels, num_classes=3, alpha=0.5)
    assert (out[:, 0] == 100).all() and (out[:, 3] == 100).all()
    assert (out[:, 1] != 100).any() and not np.array_equal(out[0, 1], out[0, 2])


def test_grid_layout_and_gray_panels():
    panels = [("ir", np.zeros((10, 12), np.uint8)), ("vis", np.ones((10, 12, 3), np.uint8))]
    grid = make_grid(panels, min_width=12)
    assert isinstance(grid, Image.Image) and grid.size == (24, 10 + 14)
    assert make_grid(panels, min_width=30).size == (72, 30 + 14)  # enlarged 3x


def test_loss_curves_from_detectron2_metrics_json(tmp_path):
    lines = [
        {
            "iteration": i,
            "loss_fusion_int": 1.0 / (i + 1),
            "loss_det_cls": 0.5,
            "loss_seg_decode_ce": 0.3,
            "total_loss": 2.0,
            "lr": 0.1,
        }
        for i in range(5)
    ] + [{"bbox/AP": 1.0}]
    path = tmp_path / "metrics.json"
    path.write_text("\n".join(json.dumps(line) for line in lines))
    series = read_metrics_json(path)
    assert series["loss_fusion_int"][-1] == (4, 0.2)
    out = plot_loss_curves(path, tmp_path / "curves.png")
    assert Image.open(out).size[0] > 0
    keys = ("loss_fusion_int", "loss_det_cls", "loss_seg_aux_ce", "total_loss", "decode.loss_ce")
    assert [loss_group(k) for k in keys] == [
        "fusion",
        "detection",
        "segmentation",
        "total",
        "task",
    ]
    path.write_text(json.dumps({"iteration": 1, "lr": 0.1}))
    with pytest.raises(ValueError, match="no loss values"):
        plot_loss_curves(path, tmp_path / "none.png")
