"""One naming scheme for every loss the joint models log, in both frameworks and in the pictures.

* fusion terms: ``loss_fusion_int``, ``loss_fusion_grad``, ... (:class:`~tsjnet_plugin.fusion.
  TSJFusionLoss`);
* task terms: ``loss_det_*`` and ``loss_seg_*``, made from the task network's own names by
  :func:`task_loss_key`: ``loss_cls`` -> ``loss_det_cls``, ``s0.loss_bbox`` ->
  ``loss_det_s0_bbox``, ``decode.loss_ce`` -> ``loss_seg_decode_ce``;
* logged values that are not losses (mmdet's ``acc``, mmseg's ``decode.acc_seg``) get the task
  without ``loss``: ``det_acc``, ``seg_decode_acc_seg``, so mmengine's ``parse_losses`` (which
  sums keys containing "loss") still leaves them out of the total.

A stock model that only has the fusion preprocessor or backbone in front keeps its own names for
its own losses; only the fusion terms are added, as ``loss_fusion_*``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .schedule import TASKS

__all__ = ["FUSION", "GROUPS", "loss_group", "task_loss_key", "task_losses"]

FUSION = "fusion"
GROUPS = (FUSION, *TASKS)


def task_loss_key(group: str, name: str) -> str:
    """The logged name of the entry ``name`` of a task network's loss dict.

    Args:
        group: "det", "seg" (or "fusion").
        name: the network's own key, e.g. ``loss_cls``, ``decode.loss_ce``, ``acc``.

    Returns:
        ``loss_<group>_<rest>`` for a loss term (``rest``: ``name`` without ``loss_``, dots as
        underscores), ``<group>_<name>`` (dots as underscores) for anything else.
    """
    if group not in GROUPS:
        raise ValueError(f"loss group must be one of {GROUPS}, got {group!r}")
    flat = name.replace(".", "_")
    if "loss" not in name:
        return f"{group}_{flat}"
    rest = flat.replace("loss_", "", 1) if "loss_" in flat else flat.replace("loss", "", 1)
    rest = rest.strip("_")
    return f"loss_{group}_{rest}" if rest else f"loss_{group}"


def task_losses(
    group: str, losses: Mapping[str, Any], weight: float = 1.0, losses_only: bool = False
) -> dict[str, Any]:
    """``losses`` renamed by :func:`task_loss_key`, loss terms times ``weight``.

    Args:
        group: "det" or "seg".
        losses: the task network's loss dict (values: tensors or lists of tensors).
        weight: factor on the loss terms (entries whose name contains "loss").
        losses_only: leave out entries that are not loss terms (detectron2 sums every entry).
    """
    out: dict[str, Any] = {}
    for name, value in losses.items():
        is_loss = "loss" in name
        if not is_loss and losses_only:
            continue
        if is_loss and weight != 1.0:
            value = [v * weight for v in value] if isinstance(value, list) else value * weight
        out[task_loss_key(group, name)] = value
    return out


def loss_group(key: str) -> str:
    """``"total"``, ``"fusion"``, ``"detection"``, ``"segmentation"`` or ``"task"`` (a stock
    model's own name) for a logged loss name (a leading ``train/`` is ignored)."""
    key = key.removeprefix("train/")
    if key in ("total_loss", "loss"):
        return "total"
    if key.startswith("loss_fusion"):
        return "fusion"
    if key.startswith("loss_det"):
        return "detection"
    if key.startswith("loss_seg"):
        return "segmentation"
    return "task"
