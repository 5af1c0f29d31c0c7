"""OpenMMLab transforms for IR/visible pairs, registered in mmengine's root `TRANSFORMS` (found
from the mmdet and the mmseg scopes).

The pair travels as ONE image, `results["img"]`: [H, W, 4] float32 with channels
(B, G, R, IR), all in [0, 255] (`tsjnet_plugin.data.pack_pair`: BGR as OpenMMLab expects;
8-bit IR as it is, 16-bit IR / 257, so it keeps its precision). Stock geometric transforms
(mmcv/mmdet/mmseg `Resize` with the default cv2 backend, `RandomFlip`, `RandomCrop`, `Pad`)
therefore move the IR with the visible image, the boxes and the masks, and
`PackDetInputs`/`PackSegInputs` pack `inputs` as [4, H, W] float32;
`tsjnet_plugin.fusion.split_pair` separates it again in the model. Photometric transforms
(e.g. `PhotoMetricDistortion`) assume 3 colour channels: never put them in the pipeline
directly, wrap them in `ApplyToVisible`. Transforms that build a 3-channel canvas (mmdet
`Mosaic`, `MixUp` and their cached variants) or pad with a 3-value `pad_val` cannot carry the
pair: `check_pair_pipeline` names them (`TSJPairDataset` runs it on its pipeline).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from mmcv.transforms import BaseTransform
from mmengine.dataset import Compose
from mmengine.registry import TRANSFORMS

from tsjnet_plugin.data import (
    MODALITIES,
    PAIR_CHANNELS,
    pack_pair,
    read_ir_levels,
    read_seg_label,
    read_visible,
)

__all__ = [
    "THREE_CHANNEL_TRANSFORMS",
    "ApplyToVisible",
    "LoadIRVisPair",
    "LoadPairSegLabel",
    "check_pair_pipeline",
]

PIXEL_MAX = 255.0
# Stock transforms that paste images onto a new 3-channel canvas (mmdet).
THREE_CHANNEL_TRANSFORMS = ("Mosaic", "MixUp", "CachedMosaic", "CachedMixUp")


@TRANSFORMS.register_module()
class LoadIRVisPair(BaseTransform):
    """Read a pair with the `tsjnet_plugin.data` readers and stack it into one image.

    Required keys: `img_path` (visible), `ir_path`.
    Added keys: `img` ([H, W, 4] float32, channels `PAIR_CHANNELS`, values in [0, 255]),
    `img_shape` and `ori_shape` ((H, W)), `modalities` (("visible", "infrared")).

    Raises:
        DatasetError: naming the file, for an unreadable image or an IR/visible size mismatch.
    """

    def transform(self, results: dict) -> dict:
        vis_path, ir_path = results["img_path"], results["ir_path"]
        img = pack_pair(read_ir_levels(ir_path), read_visible(vis_path), ir_path, vis_path)
        results["img"] = img
        results["img_shape"] = img.shape[:2]
        results["ori_shape"] = img.shape[:2]
        results["modalities"] = MODALITIES
        return results


@TRANSFORMS.register_module()
class LoadPairSegLabel(BaseTransform):
    """Read `seg_map_path` with `read_seg_label`, which checks every value: a validating
    replacement for the stock segmentation loading (mmseg `LoadAnnotations`, mmdet
    `LoadAnnotations(with_seg=True)`), which accept any value.

    Required keys: `seg_map_path`; `num_seg_classes` (set by `TSJPairDataset`) unless
    `num_classes` is given. Added keys: `gt_seg_map` ([H, W] uint8 in [0, S) or
    `ignore_index`), `ignore_index`; "gt_seg_map" is appended to `seg_fields`.

    Args:
        num_classes: S, the number of segmentation classes; default: `results["num_seg_classes"]`.
        ignore_index: the value of unlabelled pixels.

    Raises:
        DatasetError: naming the file, for an unreadable label or a value outside [0, S) that
            is not `ignore_index`.
    """

    def __init__(self, num_classes: int | None = None, ignore_index: int = 255) -> None:
        if not 0 <= ignore_index <= 255:
            raise ValueError(f"ignore_index must fit an 8-bit label, got {ignore_index=}")
        self.num_classes = num_classes
        self.ignore_index = ignore_index

    def transform(self, results: dict) -> dict:
        path = results["seg_map_path"]
        num_classes = self.num_classes
        if num_classes is None:
            num_classes = results.get("num_seg_classes")
        if num_classes is None:
            raise KeyError(
                f"{path}: LoadPairSegLabel needs num_classes= or results['num_seg_classes'] "
                "(TSJPairDataset sets it)"
            )
        labels = read_seg_label(path, num_classes, self.ignore_index)
        results["gt_seg_map"] = labels.astype(np.uint8)
        results["ignore_index"] = self.ignore_index
        results.setdefault("seg_fields", []).append("gt_seg_map")
        return results

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(num_classes={self.num_classes}, "
            f"ignore_index={self.ignore_index})"
        )


@TRANSFORMS.register_module()
class ApplyToVisible(BaseTransform):
    """Run stock transforms on the visible channels of the stacked pair only (for photometric
    transforms such as `PhotoMetricDistortion`); the IR channel is left as it is.

    The wrapped transforms see `img` as [H, W, 3] (B, G, R) float32 and must not change its
    size; their result is clipped to [0, 255] (mmdet's `PhotoMetricDistortion`, for one,
    leaves that range on float images). Required and modified key: `img` ([H, W, 4], as
    `LoadIRVisPair` makes it).

    Args:
        transforms: transform configs (built in the current default scope) or callables.
    """

    def __init__(self, transforms: Sequence[dict | Any]) -> None:
        self.transforms = Compose(list(transforms))

    def transform(self, results: dict) -> dict | None:
        img = results["img"]
        if img.ndim != 3 or img.shape[2] != len(PAIR_CHANNELS):
            raise ValueError(
                f"ApplyToVisible expects img [H, W, 4] from LoadIRVisPair, got {img.shape}"
            )
        out = self.transforms({**results, "img": np.ascontiguousarray(img[..., :3])})
        if out is None:
            return None
        vis = out["img"]
        expected = (*img.shape[:2], 3)
        if vis.shape != expected:
            raise ValueError(
                f"ApplyToVisible: {self.transforms} turned the visible image from {expected} "
                f"into {vis.shape}; wrap only photometric transforms"
            )
        vis = np.clip(vis.astype(np.float32), 0.0, PIXEL_MAX)
        out["img"] = np.concatenate([vis, img[..., 3:]], axis=-1)
        return out

    def __repr__(self) -> str:
        return f"{type(self).__name__}(transforms={self.transforms})"


def check_pair_pipeline(transforms: Sequence[Any], where: str) -> None:
    """Raise if a transform of a pair pipeline cannot carry the 4-channel pair.

    Checks the built transforms (not those inside `ApplyToVisible`, which see 3 channels) for
    `THREE_CHANNEL_TRANSFORMS` and for an image `pad_val` that does not pad all 4 channels:
    mmcv pads with one value per channel (YOLOX's `pad_val=dict(img=(114.0, 114.0, 114.0))`
    fails on the pair) or with one integer; one non-integer number pads the first channel only
    (OpenCV's scalar), so it is refused unless it is 0.

    Args:
        transforms: the pipeline's transforms, e.g. `dataset.pipeline.transforms`.
        where: what the error names, e.g. "TSJPairDataset(split='train') pipeline".
    """
    channels = len(PAIR_CHANNELS)
    for index, transform in enumerate(transforms):
        name = type(transform).__name__
        if name in THREE_CHANNEL_TRANSFORMS:
            raise ValueError(
                f"{where}[{index}]: {name} pastes images onto a 3-channel canvas and cannot "
                "carry the IR channel of the pair; remove it (and any YOLOX-style "
                "MultiImageMixDataset around TSJPairDataset)"
            )
        pad_val = getattr(transform, "pad_val", None)
        image_pad = pad_val.get("img") if isinstance(pad_val, dict) else pad_val
        if isinstance(image_pad, Sequence) and len(image_pad) != channels:
            values = (*image_pad[:3], 0.0)
            raise ValueError(
                f"{where}[{index}]: {name} pads the image with {len(image_pad)} values "
                f"{tuple(image_pad)} but the pair has {channels} channels {PAIR_CHANNELS}; "
                f"give {channels}, e.g. pad_val=dict(img={values})"
            )
        if isinstance(image_pad, float) and image_pad != 0:
            raise ValueError(
                f"{where}[{index}]: {name} pads the image with the single value {image_pad}, "
                f"which OpenCV writes into the first channel only; give {channels} values, "
                f"e.g. pad_val=dict(img={(image_pad,) * 3 + (0.0,)})"
            )
