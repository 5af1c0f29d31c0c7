"""`TSJJointModel`: one fusion trunk shared by a stock mmdet detector and a stock mmseg segmentor.

Call graph of one training step (`BaseModel.train_step` or `MMDistributedDataParallel.train_step`,
which both run `data_preprocessor` and then `forward(mode='loss')`)::

    data (inputs [4, H, W] (B, G, R, IR) in [0, 255], DetDataSample with gt_instances/gt_sem_seg)
      -> data_preprocessor (DetDataPreprocessor, mean 0, std 255) -> pair [B, 4, H, W] in [0, 1]
      -> FusionFrontEnd -> fused RGB [B, 3, H, W] in [0, 1]      + loss_fusion_* (every step)
      -> tasks = schedule.tasks_at(iteration)                      (TSJScheduleHook sets it)
         det: detector.data_preprocessor(fused BGR 0-255) -> detector.loss   -> loss_det_*
         seg: segmentor.data_preprocessor(fused BGR 0-255) -> segmentor.loss -> loss_seg_*
      -> one loss dict -> parse_losses -> optim_wrapper.update_params (one backward)

The schedule lives in `loss()`, not in a `train_step` override, because
`MMDistributedDataParallel.train_step` never calls `module.train_step`: it calls the module's
`data_preprocessor` and then the wrapped `forward`, which reaches `loss()` inside DDP's forward,
so gradients of everything used are reduced. A task that sits out an iteration leaves its
parameters without gradients (`None`), so stock optimizers skip them; under DDP this needs
`find_unused_parameters=True`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import torch
from mmengine.config import Config, ConfigDict
from mmengine.model import BaseModel
from mmengine.registry import MODELS
from mmengine.structures import BaseDataElement, PixelData

from tsjnet_plugin.fusion import FusionFrontEnd
from tsjnet_plugin.loss_names import task_losses
from tsjnet_plugin.schedule import TaskSchedule, build_schedule

from .backbone import build_registered
from .preprocessor import check_unit_pair_batch, rgb_to_bgr255

__all__ = ["DEFAULT_PAIR_PREPROCESSOR", "TSJJointModel", "load_model_config"]

# Stacks and pads the packed pairs and scales them to [0, 1] without touching the channel order
# (the 4-channel pair is not BGR: bgr_to_rgb must stay False).
DEFAULT_PAIR_PREPROCESSOR = dict(
    type="mmdet.DetDataPreprocessor",
    mean=[0.0],
    std=[255.0],
    bgr_to_rgb=False,
    pad_size_divisor=32,
    pad_seg=True,
    seg_pad_value=255,
)


def load_model_config(model: dict | str, key: str) -> ConfigDict:
    """A task model config (a `ConfigDict`: mmdet reads `train_cfg.rpn` as attributes) from
    `model`, which is one of:

    * a model config dict (with `type`);
    * a config file path: its `model`;
    * `dict(config=path, **overrides)`: the file's `model`, with `overrides` merged in
      recursively (e.g. `roi_head=dict(bbox_head=dict(num_classes=3))`).
    """
    overrides: dict = {}
    if isinstance(model, Mapping) and "config" in model:
        overrides = {k: v for k, v in model.items() if k != "config"}
        model = model["config"]
    if isinstance(model, (str, Path)):
        path = Path(model)
        if not path.is_file():
            raise FileNotFoundError(f"TSJJointModel: {key} config file {path} does not exist")
        cfg = Config.fromfile(str(path))
        if "model" not in cfg:
            raise KeyError(f"TSJJointModel: {key} config file {path} has no 'model'")
        cfg.merge_from_dict({"model": overrides})
        return cfg.model
    if not isinstance(model, Mapping):
        raise TypeError(
            f"TSJJointModel: {key} must be a model config dict, a config file path or "
            f"dict(config=path, ...), got {type(model).__name__}"
        )
    return ConfigDict(model)


@MODELS.register_module()
class TSJJointModel(BaseModel):
    """Fusion network + detector + segmentor, trained under a `TaskSchedule`.

    Args:
        fusion: `FusionFrontEnd` arguments (`arch`, `checkpoint`, `freeze`, `loss_weights`,
            `loss_weight`, `TSJNetConfig` overrides).
        detector: an mmdet model config (its own `data_preprocessor` normalises the fused
            image), a config file whose `model` is one, or `dict(config=path, **overrides)`
            (`load_model_config`); None for no detection.
        segmentor: the same for an mmseg segmentor; None for no segmentation.
        schedule: `TaskSchedule` arguments `mode` ("alternate", "sum", "ratio") and `ratio`;
            the tasks are those given, in the order (det, seg).
        task_loss_weights: factor per task on its loss terms, e.g. `dict(det=1.0, seg=1.0)`.
        data_preprocessor: the pair preprocessor; default `DEFAULT_PAIR_PREPROCESSOR`.
        init_cfg: `BaseModel` init config.

    Data: `inputs` [4, H, W] (B, G, R, IR) in [0, 255] and `DetDataSample`s with `gt_instances`
    (for det) and `gt_sem_seg` (`sem_seg` [1, H, W], for seg), as `LoadIRVisPair`,
    `LoadAnnotations(with_bbox=True)`, `LoadPairSegLabel` and `PackDetInputs` give.
    Predictions: those samples with `pred_instances`, `pred_sem_seg` (`sem_seg` [1, H0, W0] at
    the original size) and `pred_fusion` (`fused` [1, h, w] Y, `rgb` [3, h, w], in [0, 1], at
    the pipeline's `img_shape`).
    """

    def __init__(
        self,
        fusion: dict | None = None,
        detector: dict | str | None = None,
        segmentor: dict | str | None = None,
        schedule: dict | None = None,
        task_loss_weights: dict | None = None,
        data_preprocessor: dict | None = None,
        init_cfg: dict | list | None = None,
    ) -> None:
        super().__init__(data_preprocessor or dict(DEFAULT_PAIR_PREPROCESSOR), init_cfg)
        self.fusion = FusionFrontEnd(**dict(fusion or {}))
        self.detector = None
        self.segmentor = None
        if detector is not None:
            self.detector = build_registered(
                load_model_config(detector, "detector"), "TSJJointModel", "detector"
            )
        if segmentor is not None:
            self.segmentor = build_registered(
                load_model_config(segmentor, "segmentor"), "TSJJointModel", "segmentor"
            )
        self.tasks = tuple(t for t, m in (("det", self.detector), ("seg", self.segmentor)) if m)
        if not self.tasks:
            raise ValueError("TSJJointModel needs a detector, a segmentor or both")
        schedule = dict(schedule or {})
        self.schedule: TaskSchedule = build_schedule(
            schedule.pop("mode", "alternate"), self.tasks, schedule.pop("ratio", ())
        )
        if schedule:
            raise ValueError(f"TSJJointModel: unknown schedule keys {sorted(schedule)}")
        self.task_loss_weights = {task: 1.0 for task in self.tasks}
        unknown = sorted(set(task_loss_weights or {}) - set(self.tasks))
        if unknown:
            raise ValueError(f"task_loss_weights for absent tasks {unknown}; have {self.tasks}")
        self.task_loss_weights.update(task_loss_weights or {})
        self.iteration: int | None = None

    def set_iteration(self, iteration: int) -> None:
        """Set the training iteration (0-based) that selects the tasks of the next loss pass."""
        self.iteration = int(iteration)

    def forward(
        self,
        inputs: torch.Tensor,
        data_samples: list[BaseDataElement] | None = None,
        mode: str = "tensor",
    ) -> dict | list | torch.Tensor:
        """mmengine's three modes: "loss" (loss dict), "predict" (data samples), "tensor"
        (the fused RGB [B, 3, H, W] in [0, 1])."""
        if mode == "loss":
            return self.loss(inputs, data_samples)
        if mode == "predict":
            return self.predict(inputs, data_samples)
        if mode == "tensor":
            return self.fusion.fuse_pair(check_unit_pair_batch(inputs, "TSJJointModel")).rgb
        raise ValueError(f"mode must be 'loss', 'predict' or 'tensor', got {mode!r}")

    def loss(self, inputs: torch.Tensor, data_samples: list[BaseDataElement]) -> dict:
        """Fusion losses plus the losses of the tasks the schedule picks for `iteration`."""
        if self.iteration is None:
            raise RuntimeError(
                "TSJJointModel does not know the iteration: add "
                "custom_hooks=[dict(type='TSJScheduleHook')] or call set_iteration(i)"
            )
        return self.compute_losses(inputs, data_samples, self.schedule.tasks_at(self.iteration))

    def compute_losses(
        self, inputs: torch.Tensor, data_samples: list[BaseDataElement], tasks: Sequence[str]
    ) -> dict:
        """Loss dict of the fusion net and the given `tasks` ("det", "seg").

        Args:
            inputs: [B, 4, H, W] (B, G, R, IR) in [0, 1] from `data_preprocessor`.
            data_samples: `DetDataSample`s with the ground truth of `tasks`.
            tasks: the task losses to compute, a subset of `self.tasks`.

        Returns:
            `loss_fusion_*`, `loss_det_*`, `loss_seg_*` entries (task terms times
            `task_loss_weights`) and the tasks' logged values that are not losses (`det_acc`,
            `seg_decode_acc_seg`); names as in `tsjnet_plugin.loss_names`.
        """
        unknown = sorted(set(tasks) - set(self.tasks))
        if unknown:
            raise ValueError(f"tasks {unknown} not in this model's tasks {self.tasks}")
        batch = self.fusion.fuse_pair(
            check_unit_pair_batch(inputs, "TSJJointModel"), with_loss=True
        )
        losses: dict[str, Any] = dict(batch.losses)
        images = list(rgb_to_bgr255(batch.rgb).unbind(0))
        for task in tasks:
            model = self.detector if task == "det" else self.segmentor
            samples = self._task_samples(task, data_samples, inputs.shape[-2:], training=True)
            task_data = model.data_preprocessor({"inputs": images, "data_samples": samples}, True)
            raw = model.loss(task_data["inputs"], task_data["data_samples"])
            losses.update(task_losses(task, raw, self.task_loss_weights[task]))
        return losses

    def predict(
        self, inputs: torch.Tensor, data_samples: list[BaseDataElement]
    ) -> list[BaseDataElement]:
        """Detections, segmentation and the fused image per sample (class docstring)."""
        batch = self.fusion.fuse_pair(check_unit_pair_batch(inputs, "TSJJointModel"))
        images = list(rgb_to_bgr255(batch.rgb).unbind(0))
        results = list(data_samples)
        if self.detector is not None:
            samples = self._task_samples("det", data_samples, inputs.shape[-2:], training=False)
            det_data = self.detector.data_preprocessor({"inputs": images, "data_samples": samples})
            results = self.detector.predict(det_data["inputs"], det_data["data_samples"])
        if self.segmentor is not None:
            samples = self._task_samples("seg", data_samples, inputs.shape[-2:], training=False)
            seg_data = self.segmentor.data_preprocessor({"inputs": images, "data_samples": samples})
            seg_results = self.segmentor.predict(seg_data["inputs"], seg_data["data_samples"])
            for result, seg in zip(results, seg_results):
                result.pred_sem_seg = PixelData(sem_seg=seg.pred_sem_seg.data)
        for result, y, rgb in zip(results, batch.fused, batch.rgb):
            height, width = result.metainfo.get("img_shape", y.shape[-2:])[:2]
            result.pred_fusion = PixelData(fused=y[:, :height, :width], rgb=rgb[:, :height, :width])
        return results

    @staticmethod
    def _task_samples(
        task: str, samples: list[BaseDataElement], batch_shape: torch.Size, training: bool
    ) -> list[BaseDataElement]:
        """The ground truth of `task` in the data sample type its model reads (mmseg: a
        `SegDataSample` with int64 `gt_sem_seg.data`, as `PackSegInputs` packs it)."""
        needed = "gt_instances" if task == "det" else "gt_sem_seg"
        if training:
            for index, sample in enumerate(samples):
                if needed not in sample:
                    raise KeyError(
                        f"TSJJointModel: the {task} task needs {needed} in every data sample, "
                        f"sample {index} ({sample.metainfo.get('img_path')}) has none: load it "
                        "with LoadAnnotations(with_bbox=True) / LoadPairSegLabel"
                    )
        if task == "det":
            return [sample.clone() for sample in samples]
        from mmseg.structures import SegDataSample

        seg_samples = []
        for sample in samples:
            seg = SegDataSample(metainfo=sample.metainfo)
            if "gt_sem_seg" in sample:
                seg.gt_sem_seg = PixelData(data=sample.gt_sem_seg.sem_seg.long())
            if not training:
                height, width = sample.metainfo.get("img_shape", batch_shape)[:2]
                seg.set_metainfo(
                    {
                        "pad_shape": tuple(batch_shape),
                        "img_padding_size": [0, batch_shape[1] - width, 0, batch_shape[0] - height],
                    }
                )
            seg_samples.append(seg)
        return seg_samples
