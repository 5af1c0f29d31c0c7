"""Segmentation task networks for the joint detectron2 model, behind one small interface.

Both adapters take fused RGB images ``[B, 3, H, W]`` float in [0, 255] (differentiable) and
labels ``[B, H, W]`` int64 (``ignore_index`` where unlabelled), and provide:

* ``losses(images, labels) -> dict[str, Tensor]``: the segmentor's own loss dict (the joint
  model names its terms ``loss_seg_*`` with :func:`tsjnet_plugin.loss_names.task_losses`);
* ``logits(images) -> [B, C, H, W]``: class scores at the input size;
* ``num_classes`` and ``ignore_index``.

:class:`MMSegSegmentor` wraps a segmentor built from an MMSegmentation config (DeepLabV3+ by
default); :class:`D2SemanticSegmentor` wraps detectron2's ``SemanticSegmentor``.
"""

from __future__ import annotations

import os

import torch
import torch.nn.functional as F
from detectron2.config import CfgNode
from detectron2.modeling import META_ARCH_REGISTRY
from detectron2.utils import comm
from torch import nn

from tsjnet_plugin.paths import resolve_project_path

__all__ = ["D2SemanticSegmentor", "MMSegSegmentor", "build_segmentor"]


class MMSegSegmentor(nn.Module):
    """An MMSegmentation ``EncoderDecoder`` fed with already-fused images.

    The config's ``model.data_preprocessor`` gives the normalisation (``mean``, ``std``,
    ``bgr_to_rgb``): images are converted to the channel order the network consumes and
    normalised here, so the stock preprocessor is not used. ``SyncBN`` is reverted to ``BN`` in
    single-process runs.

    Args:
        config: path of an mmseg config file (``_base_`` may use ``mmseg::`` paths).
        weights: optional local checkpoint of that segmentor.
    """

    def __init__(self, config: str | os.PathLike, weights: str = "") -> None:
        super().__init__()
        from mmengine.config import Config
        from mmengine.model import revert_sync_batchnorm
        from mmengine.runner import load_checkpoint
        from mmseg.registry import MODELS
        from mmseg.utils import register_all_modules

        if not os.path.isfile(config):
            raise FileNotFoundError(f"MODEL.TSJNET.SEGMENTOR.CONFIG: no such mmseg config {config}")
        register_all_modules(init_default_scope=False)
        model_cfg = Config.fromfile(str(config)).model
        preprocessor = model_cfg.pop("data_preprocessor", None) or {}
        self.model = MODELS.build(model_cfg)
        self.model.init_weights()
        if comm.get_world_size() == 1:
            self.model = revert_sync_batchnorm(self.model)
        if weights:
            load_checkpoint(self.model, weights, map_location="cpu")
        self.rgb_input = bool(preprocessor.get("bgr_to_rgb", False))
        mean = preprocessor.get("mean") or [0.0, 0.0, 0.0]
        std = preprocessor.get("std") or [1.0, 1.0, 1.0]
        self.register_buffer("pixel_mean", torch.tensor(mean).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("pixel_std", torch.tensor(std).view(1, 3, 1, 1), persistent=False)
        self.num_classes = int(self.model.decode_head.num_classes)
        self.ignore_index = int(self.model.decode_head.ignore_index)

    def _normalise(self, images: torch.Tensor) -> torch.Tensor:
        # mmseg's preprocessor receives BGR images; bgr_to_rgb=True means the network eats RGB.
        ordered = images if self.rgb_input else images.flip(1)
        return (ordered - self.pixel_mean) / self.pixel_std

    def losses(self, images: torch.Tensor, labels: torch.Tensor) -> dict[str, torch.Tensor]:
        from mmengine.structures import PixelData
        from mmseg.structures import SegDataSample

        samples = []
        for label in labels:
            sample = SegDataSample(metainfo={"img_shape": tuple(label.shape)})
            sample.gt_sem_seg = PixelData(data=label[None])
            samples.append(sample)
        return self.model.loss(self._normalise(images), samples)

    def logits(self, images: torch.Tensor) -> torch.Tensor:
        shape = tuple(images.shape[-2:])
        metas = [{"img_shape": shape, "pad_shape": shape, "ori_shape": shape}] * images.shape[0]
        out = self.model.encode_decode(self._normalise(images), metas)
        return F.interpolate(out, size=shape, mode="bilinear", align_corners=False)


class D2SemanticSegmentor(nn.Module):
    """detectron2's ``SemanticSegmentor`` (``MODEL.SEM_SEG_HEAD``, ``MODEL.BACKBONE``) fed with
    fused images in ``INPUT.FORMAT`` order.

    Args:
        cfg: the detectron2 config; its ``MODEL.SEM_SEG_HEAD`` and ``MODEL.PIXEL_MEAN/STD`` are
            used, with ``MODEL.META_ARCHITECTURE`` replaced by ``SemanticSegmentor``.
    """

    def __init__(self, cfg: CfgNode) -> None:
        super().__init__()
        inner = cfg.clone()
        inner.defrost()
        inner.MODEL.META_ARCHITECTURE = "SemanticSegmentor"
        self.model = META_ARCH_REGISTRY.get("SemanticSegmentor")(inner)
        self.rgb_input = cfg.INPUT.FORMAT == "RGB"
        self.num_classes = int(cfg.MODEL.SEM_SEG_HEAD.NUM_CLASSES)
        self.ignore_index = int(cfg.MODEL.SEM_SEG_HEAD.IGNORE_VALUE)

    def _inputs(self, images: torch.Tensor, labels: torch.Tensor | None = None) -> list[dict]:
        ordered = images if self.rgb_input else images.flip(1)
        height, width = images.shape[-2:]
        inputs = [{"image": image, "height": height, "width": width} for image in ordered]
        if labels is not None:
            for item, label in zip(inputs, labels):
                item["sem_seg"] = label
        return inputs

    def losses(self, images: torch.Tensor, labels: torch.Tensor) -> dict[str, torch.Tensor]:
        return self.model(self._inputs(images, labels))

    def logits(self, images: torch.Tensor) -> torch.Tensor:
        """Class scores in eval mode (detectron2's model returns losses in training mode)."""
        if self.model.training:
            raise RuntimeError("D2SemanticSegmentor.logits needs eval mode")
        return torch.stack([out["sem_seg"] for out in self.model(self._inputs(images))])


def build_segmentor(cfg: CfgNode) -> nn.Module | None:
    """The segmentor chosen by ``MODEL.TSJNET.SEGMENTOR.TYPE`` ("mmseg", "d2" or ""); a relative
    ``SEGMENTOR.CONFIG`` is taken under the project root (``tsjnet_plugin.paths``), not the
    working directory."""
    seg = cfg.MODEL.TSJNET.SEGMENTOR
    if seg.TYPE == "":
        return None
    if seg.TYPE == "mmseg":
        return MMSegSegmentor(resolve_project_path(seg.CONFIG), seg.WEIGHTS)
    if seg.TYPE == "d2":
        return D2SemanticSegmentor(cfg)
    raise ValueError(
        f"MODEL.TSJNET.SEGMENTOR.TYPE must be 'mmseg', 'd2' or '' (none), got {seg.TYPE!r}"
    )
