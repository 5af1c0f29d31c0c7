"""Single-pair inference the way detectron2's ``DefaultPredictor`` does it."""

from __future__ import annotations

import os

import numpy as np
import torch
from detectron2.config import CfgNode
from detectron2.data import MetadataCatalog
from detectron2.data import transforms as T
from detectron2.modeling import build_model

from tsjnet_plugin.data import read_ir_levels, read_visible
from tsjnet_plugin.fusion import ir_to_tensor, visible_to_tensor
from tsjnet_plugin.fusion.color import to_uint8_image

from .data import transform_ir
from .weights import TSJCheckpointer

__all__ = ["TSJPredictor"]


class TSJPredictor:
    """Run a trained joint model on one (IR, visible) pair.

    Uses ``model`` if given, else builds one and loads ``cfg.MODEL.WEIGHTS``; resizes both images with ``ResizeShortestEdge(INPUT.MIN_SIZE_TEST,
    INPUT.MAX_SIZE_TEST)`` (0 keeps the native size), and returns, at the original size:

    * ``instances``: detections (when the model detects);
    * ``sem_seg``: ``[H, W]`` int64 class map (when it segments);
    * ``fused``: ``HxWx3`` uint8 RGB fused colour image; ``fused_gray``: ``HxW`` uint8.
    """

    def __init__(self, cfg: CfgNode, model: torch.nn.Module | None = None) -> None:
        self.cfg = cfg.clone()
        if model is None:
            model = build_model(self.cfg)
            if cfg.MODEL.WEIGHTS:
                TSJCheckpointer(model).load(cfg.MODEL.WEIGHTS)
        self.model = model.eval()
        self.metadata = MetadataCatalog.get(cfg.DATASETS.TEST[0]) if cfg.DATASETS.TEST else None
        self.aug = T.ResizeShortestEdge(cfg.INPUT.MIN_SIZE_TEST, cfg.INPUT.MAX_SIZE_TEST)

    def __call__(
        self,
        ir: np.ndarray | str | os.PathLike,
        vis: np.ndarray | str | os.PathLike,
        channel_order: str = "RGB",
    ) -> dict:
        """Args: ``ir`` ``HxW`` (8/16-bit or float in [0, 1]) or a path (read at its bit depth);
        ``vis`` ``HxWx3`` in ``channel_order`` (or ``HxW``) or a path (read as RGB).

        8-bit images reach the model as they are (uint8, the mapper's format); a float or
        16-bit visible image is rounded to 8 bits once, here."""
        if not isinstance(ir, np.ndarray):
            ir = read_ir_levels(ir)
        if not isinstance(vis, np.ndarray):
            vis, channel_order = read_visible(vis), "RGB"
        vis_rgb = _visible_uint8(vis, channel_order)
        if ir.ndim == 3:  # [H, W, 1], or colour (to gray by BT.601, with a warning)
            ir = ir_to_tensor(ir)[0, 0].numpy()
        if ir.shape != vis_rgb.shape[:2]:
            raise ValueError(f"infrared {ir.shape} and visible {vis_rgb.shape[:2]} sizes differ")
        height, width = ir.shape
        transform = self.aug.get_transform(vis_rgb)
        image = transform.apply_image(vis_rgb)
        ir_t = transform_ir(T.TransformList([transform]), ir)
        inputs = {
            "image": torch.as_tensor(np.ascontiguousarray(image.transpose(2, 0, 1))),
            "ir": torch.as_tensor(np.ascontiguousarray(ir_t))[None],
            "height": height,
            "width": width,
        }
        with torch.no_grad():
            output = self.model([inputs])[0]
        back = T.ResizeTransform(*image.shape[:2], height, width)
        gray = (output["fused_y"][0] * 255.0).round().to(torch.uint8).cpu().numpy()
        result = {
            "fused": back.apply_image(output["fused"].permute(1, 2, 0).cpu().numpy()),
            "fused_gray": back.apply_image(gray),
        }
        if "instances" in output:
            result["instances"] = output["instances"].to("cpu")
        if "sem_seg" in output:
            result["sem_seg"] = output["sem_seg"].argmax(dim=0).cpu()
        return result


def _visible_uint8(vis: np.ndarray, channel_order: str) -> np.ndarray:
    """``HxWx3`` uint8 RGB: uint8 input as it is (reordered, gray replicated), anything else
    through `visible_to_tensor` and rounded to 8 bits."""
    if vis.dtype != np.uint8:
        return to_uint8_image(visible_to_tensor(vis, channel_order))
    if vis.ndim == 2:
        return np.repeat(vis[..., None], 3, axis=2)
    if channel_order not in ("RGB", "BGR"):
        raise ValueError(f"channel_order must be 'RGB' or 'BGR', got {channel_order!r}")
    if vis.ndim != 3 or vis.shape[2] != 3:
        raise ValueError(f"expected an HxWx3 or HxW visible image, got shape {vis.shape}")
    return np.ascontiguousarray(vis[..., ::-1] if channel_order == "BGR" else vis)
