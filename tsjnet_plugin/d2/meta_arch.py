"""The joint detectron2 model: TSJNet fusion in front of a detector and a segmentor.

``MODEL.META_ARCHITECTURE: "TSJNetJointModel"``. One pair flows as follows:

1. the mapper gives ``image`` (visible, ``[3, H, W]`` uint8 RGB) and ``ir`` (``[1, H, W]`` in
   [0, 1]); pairs are reflect-padded to a common size and batched;
2. the fusion network fuses (IR, visible Y); the fused Y is re-coloured with the visible chroma;
3. the detector (any detectron2 meta-architecture, chosen by
   ``MODEL.TSJNET.DETECTOR.META_ARCHITECTURE``) gets the differentiable fused image in its
   ``INPUT.FORMAT`` channel order on the 0-255 scale, which its own ``PIXEL_MEAN/STD`` normalise;
4. the segmentor (MMSegmentation or detectron2) gets the same fused image;
5. in training, the fusion losses and the losses of the tasks named by ``tasks`` are returned
   as one flat dict; in inference, each image's ``instances``, ``sem_seg`` and ``fused`` image.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import torch
from detectron2.config import CfgNode, configurable
from detectron2.data import DatasetCatalog, MetadataCatalog
from detectron2.modeling import META_ARCH_REGISTRY
from detectron2.modeling.postprocessing import sem_seg_postprocess
from torch import nn

from tsjnet_plugin.fusion import (
    FusionLossWeights,
    TSJFusionLoss,
    TSJNet,
    build_fusion_model,
    load_checkpoint,
    recolor,
    rgb_to_y,
)
from tsjnet_plugin.fusion.official import pad_to

from .segmentors import build_segmentor

logger = logging.getLogger(__name__)

TASKS = ("det", "seg")


def _num_detector_classes(cfg: CfgNode) -> int:
    name = cfg.MODEL.TSJNET.DETECTOR.META_ARCHITECTURE
    return (
        cfg.MODEL.RETINANET.NUM_CLASSES if name == "RetinaNet" else cfg.MODEL.ROI_HEADS.NUM_CLASSES
    )


def check_class_counts(
    cfg: CfgNode, detector_classes: int | None, segmentor_classes: int | None
) -> None:
    """Raise if the task networks disagree with ``cfg.DATASETS.TRAIN[0]``'s class lists.

    Uses the dataset metadata (``thing_classes``/``stuff_classes``); datasets whose metadata
    does not list classes are not checked.
    """
    if not cfg.DATASETS.TRAIN:
        return
    name = cfg.DATASETS.TRAIN[0]
    meta = MetadataCatalog.get(name)
    if name in DatasetCatalog and not meta.get("thing_classes", None):
        DatasetCatalog.get(name)  # the pair datasets set their class names when first loaded
    things = meta.get("thing_classes", None)
    stuff = meta.get("stuff_classes", None)
    if detector_classes is not None and things and len(things) != detector_classes:
        raise ValueError(
            f"dataset {name!r} has {len(things)} detection classes {list(things)} but the detector "
            f"is configured for {detector_classes} (MODEL.ROI_HEADS.NUM_CLASSES or "
            "MODEL.RETINANET.NUM_CLASSES)"
        )
    if segmentor_classes is not None and stuff and len(stuff) != segmentor_classes:
        raise ValueError(
            f"dataset {name!r} has {len(stuff)} segmentation classes {list(stuff)} but the "
            f"segmentor predicts {segmentor_classes} (num_classes in "
            f"{cfg.MODEL.TSJNET.SEGMENTOR.CONFIG or 'MODEL.SEM_SEG_HEAD.NUM_CLASSES'})"
        )


def build_detector(cfg: CfgNode) -> nn.Module | None:
    """The inner detectron2 detector named by ``MODEL.TSJNET.DETECTOR.META_ARCHITECTURE``."""
    name = cfg.MODEL.TSJNET.DETECTOR.META_ARCHITECTURE
    if not name:
        return None
    if name == "TSJNetJointModel" or name not in META_ARCH_REGISTRY:
        known = sorted(k for k, _ in META_ARCH_REGISTRY if k != "TSJNetJointModel")
        raise ValueError(
            f"MODEL.TSJNET.DETECTOR.META_ARCHITECTURE {name!r} is not a detectron2 "
            f"meta-architecture; registered: {known}"
        )
    inner = cfg.clone()
    inner.defrost()
    inner.MODEL.META_ARCHITECTURE = name
    detector = META_ARCH_REGISTRY.get(name)(inner)
    weights = cfg.MODEL.TSJNET.DETECTOR.WEIGHTS
    if weights:
        from detectron2.checkpoint import DetectionCheckpointer

        DetectionCheckpointer(detector).load(weights)
    return detector


@META_ARCH_REGISTRY.register()
class TSJNetJointModel(nn.Module):
    """Fusion network + detector + segmentor, trained through the fused image.

    Args:
        fusion: the fusion network.
        fusion_loss: its loss module; ``fusion_loss_weight`` scales all its terms.
        detector: a detectron2 meta-architecture, or None.
        segmentor: an adapter from :mod:`tsjnet_plugin.d2.segmentors`, or None.
        input_format: "RGB" or "BGR", the detector's ``INPUT.FORMAT``.
        det_loss_weight, seg_loss_weight: task loss weights.
        drop_det_losses: detector loss names left out (the official code drops "loss_cls").
    """

    @configurable
    def __init__(
        self,
        *,
        fusion: TSJNet,
        fusion_loss: TSJFusionLoss,
        fusion_loss_weight: float = 1.0,
        detector: nn.Module | None = None,
        segmentor: nn.Module | None = None,
        input_format: str = "BGR",
        det_loss_weight: float = 1.0,
        seg_loss_weight: float = 1.0,
        drop_det_losses: Sequence[str] = (),
    ) -> None:
        super().__init__()
        if input_format not in ("RGB", "BGR"):
            raise ValueError(f"INPUT.FORMAT must be RGB or BGR, got {input_format!r}")
        self.fusion = fusion
        self.fusion_loss = fusion_loss
        self.fusion_loss_weight = fusion_loss_weight
        self.detector = detector
        self.segmentor = segmentor
        self.input_format = input_format
        self.det_loss_weight = det_loss_weight
        self.seg_loss_weight = seg_loss_weight
        self.drop_det_losses = tuple(drop_det_losses)
        self.register_buffer("_device_probe", torch.zeros(0), persistent=False)

    @classmethod
    def from_config(cls, cfg: CfgNode) -> dict:
        tsj = cfg.MODEL.TSJNET
        fusion = build_fusion_model(
            tsj.ARCH, attention_backend=tsj.ATTENTION_BACKEND, with_cp=tsj.WITH_CP
        )
        if tsj.WEIGHTS:
            load_checkpoint(fusion, tsj.WEIGHTS)
            logger.info("loaded fusion weights from %s", tsj.WEIGHTS)
        weights = tsj.FUSION_LOSS
        loss = TSJFusionLoss(
            FusionLossWeights(
                weights.INTENSITY,
                weights.GRADIENT,
                weights.SSIM,
                weights.DIVERSITY,
                weights.RECON_VIS,
                weights.RECON_IR,
            )
        )
        detector = build_detector(cfg)
        segmentor = build_segmentor(cfg)
        check_class_counts(
            cfg,
            _num_detector_classes(cfg) if detector is not None else None,
            segmentor.num_classes if segmentor is not None else None,
        )
        for module, frozen in ((fusion, tsj.FREEZE), (detector, tsj.DETECTOR.FREEZE)):
            if module is not None and frozen:
                module.requires_grad_(False)
        if segmentor is not None and tsj.SEGMENTOR.FREEZE:
            segmentor.requires_grad_(False)
        return {
            "fusion": fusion,
            "fusion_loss": loss,
            "fusion_loss_weight": weights.WEIGHT,
            "detector": detector,
            "segmentor": segmentor,
            "input_format": cfg.INPUT.FORMAT,
            "det_loss_weight": tsj.DETECTOR.LOSS_WEIGHT,
            "seg_loss_weight": tsj.SEGMENTOR.LOSS_WEIGHT,
            "drop_det_losses": tsj.DETECTOR.DROP_LOSSES,
        }

    def train(self, mode: bool = True) -> TSJNetJointModel:
        """Like ``nn.Module.train``, but frozen parts stay in eval mode (BatchNorm statistics and
        dropout of a frozen network do not change)."""
        super().train(mode)
        for part in (self.fusion, self.detector, self.segmentor):
            if part is not None and not any(p.requires_grad for p in part.parameters()):
                part.eval()
        return self

    @property
    def device(self) -> torch.device:
        return self._device_probe.device

    @property
    def tasks(self) -> tuple[str, ...]:
        """The task networks this model has, in schedule order."""
        return tuple(t for t, m in zip(TASKS, (self.detector, self.segmentor)) if m is not None)

    def _batch_pairs(self, batched_inputs: list[dict]) -> tuple[torch.Tensor, torch.Tensor]:
        """Visible RGB ``[B, 3, H, W]`` and IR ``[B, 1, H, W]`` in [0, 1], reflect-padded to the
        largest size in the batch."""
        height = max(x["image"].shape[-2] for x in batched_inputs)
        width = max(x["image"].shape[-1] for x in batched_inputs)
        vis, ir = [], []
        for x in batched_inputs:
            if "ir" not in x:
                raise KeyError(
                    "TSJNetJointModel needs an 'ir' tensor in every input; use "
                    "tsjnet_plugin.d2.PairDatasetMapper (the stock DatasetMapper loads one image)"
                )
            v = x["image"].to(self.device, torch.float32)[None] / 255.0
            i = x["ir"].to(self.device, torch.float32)[None]
            vis.append(pad_to(v, height, width, "reflect"))
            ir.append(pad_to(i, height, width, "reflect"))
        return torch.cat(vis), torch.cat(ir)

    def _detector_inputs(
        self, batched_inputs: list[dict], fused_rgb: torch.Tensor, keys: Sequence[str]
    ) -> list[dict]:
        """Detector inputs: each fused image (``[B, 3, H, W]`` RGB in [0, 1], padded) cropped to
        its own size, in the detector's channel order on the 0-255 scale, plus ``keys`` of the
        mapper's dict."""
        inputs = []
        for x, rgb in zip(batched_inputs, fused_rgb):
            h, w = x["image"].shape[-2:]
            image = rgb[:, :h, :w] * 255.0
            item = {"image": image if self.input_format == "RGB" else image.flip(0)}
            item.update({k: x[k] for k in keys if k in x})
            inputs.append(item)
        return inputs

    def forward(self, batched_inputs: list[dict], tasks: Sequence[str] | None = None):
        """Training: a dict of losses; inference: one dict per image.

        Args:
            batched_inputs: mapper outputs (``image``, ``ir``, ``instances``, ``sem_seg``, ...).
            tasks: task losses to compute in training ("det", "seg"); default all the model has.
        """
        vis_rgb, ir = self._batch_pairs(batched_inputs)
        vis_y = rgb_to_y(vis_rgb)
        if not self.training:
            return self.inference(batched_inputs, vis_rgb, ir, vis_y)
        tasks = self.tasks if tasks is None else tuple(tasks)
        unknown = set(tasks) - set(self.tasks)
        if unknown:
            raise ValueError(f"tasks {sorted(unknown)} not in this model's tasks {self.tasks}")
        outputs = self.fusion(ir, vis_y, with_aux=True)
        losses = {
            k: v * self.fusion_loss_weight for k, v in self.fusion_loss(outputs, ir, vis_y).items()
        }
        fused_rgb = recolor(outputs.fused, vis_rgb)
        if "det" in tasks:
            losses.update(self._detector_losses(batched_inputs, fused_rgb))
        if "seg" in tasks:
            losses.update(self._segmentor_losses(batched_inputs, fused_rgb))
        return losses

    def _detector_losses(self, batched_inputs: list[dict], fused_rgb: torch.Tensor) -> dict:
        raw = self.detector(
            self._detector_inputs(batched_inputs, fused_rgb, ("instances", "height", "width"))
        )
        return {
            k: v * self.det_loss_weight for k, v in raw.items() if k not in self.drop_det_losses
        }

    def _segmentor_losses(self, batched_inputs: list[dict], fused_rgb: torch.Tensor) -> dict:
        if any("sem_seg" not in x for x in batched_inputs):
            raise KeyError("segmentation step without 'sem_seg' labels; check the dataset")
        height, width = fused_rgb.shape[-2:]
        labels = torch.full(
            (len(batched_inputs), height, width),
            self.segmentor.ignore_index,
            dtype=torch.long,
            device=self.device,
        )
        for label, x in zip(labels, batched_inputs):
            h, w = x["sem_seg"].shape
            label[:h, :w] = x["sem_seg"].to(self.device)
        raw = self.segmentor.losses(fused_rgb * 255.0, labels)
        return {k: v * self.seg_loss_weight for k, v in raw.items()}

    def inference(
        self,
        batched_inputs: list[dict],
        vis_rgb: torch.Tensor,
        ir: torch.Tensor,
        vis_y: torch.Tensor,
    ) -> list[dict]:
        """Per image: ``fused`` (``[3, H, W]`` uint8 RGB at the input size), ``fused_y``
        (``[1, H, W]`` float in [0, 1]), ``instances`` and ``sem_seg`` (``[C, height, width]``
        scores at the original size) when the model has those tasks."""
        fused_y = self.fusion(ir, vis_y)
        fused_rgb = recolor(fused_y, vis_rgb)
        results = []
        for x, y, rgb in zip(batched_inputs, fused_y, fused_rgb):
            h, w = x["image"].shape[-2:]
            results.append(
                {
                    "fused_y": y[:, :h, :w],
                    "fused": (rgb[:, :h, :w] * 255.0).round().to(torch.uint8),
                }
            )
        if self.detector is not None:
            inputs = self._detector_inputs(batched_inputs, fused_rgb, ("height", "width"))
            for result, out in zip(results, self.detector(inputs)):
                result["instances"] = out["instances"]
        if self.segmentor is not None:
            logits = self.segmentor.logits(fused_rgb * 255.0)
            for x, result, scores in zip(batched_inputs, results, logits):
                h, w = x["image"].shape[-2:]
                out_h, out_w = x.get("height", h), x.get("width", w)
                result["sem_seg"] = sem_seg_postprocess(scores[:, :h, :w], (h, w), out_h, out_w)
        return results
