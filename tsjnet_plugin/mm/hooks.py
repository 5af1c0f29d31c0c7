"""mmengine hooks, registered in the root `HOOKS` (usable from mmdet and mmseg configs).

* `TSJFusionLossHook`: adds the fusion losses of a `TSJFusionPreprocessor`/`TSJFusionBackbone`
  to a stock model's loss dict (`loss_fusion_*`), so one backward carries task and fusion loss;
* `TSJScheduleHook`: tells a `TSJJointModel` the iteration before each training step, so its
  `TaskSchedule` picks the task;
* `TSJNumClassCheckHook`: before training/validation/testing, checks that the task networks'
  class counts match the dataset's classes (like mmdet's `NumClassCheckHook`).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import torch
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from mmengine.registry import HOOKS
from mmengine.runner import Runner
from torch import nn
from torch.utils.hooks import RemovableHandle

from .preprocessor import FusionLossSource

__all__ = [
    "TSJFusionLossHook",
    "TSJNumClassCheckHook",
    "TSJScheduleHook",
    "attach_fusion_loss_collector",
    "unwrap_model",
]


def unwrap_model(model: nn.Module) -> nn.Module:
    """The model inside a model wrapper (`MMDistributedDataParallel`, ...), else `model`."""
    return model.module if is_model_wrapper(model) else model


def _fusion_loss_sources(model: nn.Module) -> Iterator[FusionLossSource]:
    return (m for m in model.modules() if isinstance(m, FusionLossSource))


def attach_fusion_loss_collector(model: nn.Module) -> RemovableHandle:
    """Make `model(..., mode='loss')` return its fusion losses too.

    A forward hook on the (unwrapped) model adds every `FusionLossSource`'s pending losses to
    the loss dict; under `MMDistributedDataParallel` it runs inside the wrapped forward, so the
    fusion loss is part of the output DDP reduces gradients for.

    Returns:
        The hook handle (`handle.remove()` detaches it).

    Raises:
        ValueError: the model holds no `TSJFusionPreprocessor`/`TSJFusionBackbone`.
    """
    model = unwrap_model(model)
    sources = list(_fusion_loss_sources(model))
    if not sources:
        raise ValueError(
            f"{type(model).__name__} holds no TSJFusionPreprocessor or TSJFusionBackbone, so "
            "TSJFusionLossHook has no fusion loss to add; remove the hook or add the fusion "
            "preprocessor/backbone to the model"
        )

    def add_fusion_losses(
        module: nn.Module, args: tuple, kwargs: dict[str, Any], output: Any
    ) -> Any:
        losses: dict[str, torch.Tensor] = {}
        for source in sources:
            losses.update(source.pop_fusion_losses())
        if kwargs.get("mode") != "loss" or not losses:
            return output
        if not isinstance(output, dict):
            raise TypeError(
                f"{type(module).__name__}(mode='loss') returned {type(output).__name__}, "
                "expected a loss dict to add the fusion losses to"
            )
        return {**output, **losses}

    for source in sources:
        source.collector_attached = True
    return model.register_forward_hook(add_fusion_losses, with_kwargs=True)


@HOOKS.register_module()
class TSJFusionLossHook(Hook):
    """Add the fusion loss (`loss_fusion_int`, ...) to the loss dict of a stock model whose data
    preprocessor is `TSJFusionPreprocessor` or whose backbone is `TSJFusionBackbone`.

    Config: `custom_hooks = [dict(type='TSJFusionLossHook')]`.
    """

    priority = "NORMAL"

    def __init__(self) -> None:
        self._handle: RemovableHandle | None = None

    def before_train(self, runner: Runner) -> None:
        if self._handle is None:
            self._handle = attach_fusion_loss_collector(runner.model)

    def after_train(self, runner: Runner) -> None:
        if self._handle is not None:
            self._handle.remove()
            self._handle = None
            for source in _fusion_loss_sources(unwrap_model(runner.model)):
                source.collector_attached = False


@HOOKS.register_module()
class TSJScheduleHook(Hook):
    """Give a `TSJJointModel` the runner's iteration before each training step (works with
    iteration- and epoch-based loops and on resume, since the schedule is a function of it).

    Config: `custom_hooks = [dict(type='TSJScheduleHook')]`.
    """

    priority = "HIGH"

    def before_train_iter(
        self, runner: Runner, batch_idx: int, data_batch: dict | tuple | list | None = None
    ) -> None:
        model = unwrap_model(runner.model)
        if not hasattr(model, "set_iteration"):
            raise TypeError(
                f"TSJScheduleHook needs a model with set_iteration() (TSJJointModel), got "
                f"{type(model).__name__}"
            )
        model.set_iteration(runner.iter)


@HOOKS.register_module()
class TSJNumClassCheckHook(Hook):
    """Check the class counts of a model against its dataset before each run phase.

    Checks every head that has `num_classes`: segmentation heads (`decode_head`,
    `auxiliary_head`) against `seg_classes` (or `classes` for a seg-only dataset) and detection
    heads (`bbox_head`, `rpn_head` is class-agnostic, `roi_head.bbox_head`) against
    `det_classes` (or `classes`).
    """

    priority = "LOW"

    def before_train(self, runner: Runner) -> None:
        self._check(runner, runner.train_dataloader.dataset, "train_dataloader")

    def before_val(self, runner: Runner) -> None:
        self._check(runner, runner.val_dataloader.dataset, "val_dataloader")

    def before_test(self, runner: Runner) -> None:
        self._check(runner, runner.test_dataloader.dataset, "test_dataloader")

    @staticmethod
    def _check(runner: Runner, dataset: Any, where: str) -> None:
        meta = getattr(dataset, "metainfo", {}) or {}
        model = unwrap_model(runner.model)
        for name, num_classes, kind in _heads_with_classes(model):
            classes = meta.get(f"{kind}_classes")
            if classes is None and meta.get("classes") is not None:
                classes = meta["classes"]
            if classes is None:
                continue
            if num_classes != len(classes):
                raise ValueError(
                    f"{name}.num_classes={num_classes} but {where}.dataset "
                    f"({type(dataset).__name__}) has {len(classes)} {kind} classes {tuple(classes)}"
                    f"; set num_classes={len(classes)} in the model config"
                )


def _heads_with_classes(model: nn.Module) -> Iterator[tuple[str, int, str]]:
    """(module path, num_classes, "seg" | "det") of every classifying head in `model`."""
    for name, module in model.named_modules():
        leaf = name.rsplit(".", 1)[-1]
        num_classes = getattr(module, "num_classes", None)
        if not isinstance(num_classes, int) or leaf == "rpn_head":
            continue
        if leaf in ("decode_head", "auxiliary_head"):
            yield name, num_classes, "seg"
        elif leaf == "bbox_head":
            yield name, num_classes, "det"
