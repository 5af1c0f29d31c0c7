"""Stock detectron2 weights in the TSJNet models: key remapping and a check that anything loaded.

A stock checkpoint (detectron2 ``.pth``, model-zoo ``.pkl``) names its keys after a plain
meta-architecture (``backbone.*``, ``proposal_generator.*``, ``roi_heads.*``). In
``TSJNetJointModel`` the detector sits under ``detector.``; in a :class:`TSJNetBackbone` the
stock backbone sits under ``inner.``. :class:`TSJCheckpointer` renames every checkpoint key that
is not a model key but becomes one under those prefixes, then loads as detectron2 does (shape
mismatches, e.g. another class count, are skipped with detectron2's warning). A file of which
no weight lands in the model stops the run with an error naming both key sets.
"""

from __future__ import annotations

import logging
from typing import Any

from detectron2.checkpoint import DetectionCheckpointer
from detectron2.checkpoint.c2_model_loading import align_and_update_state_dicts
from torch import nn

from .backbone import TSJNetBackbone, stock_backbone_key

__all__ = ["TSJCheckpointer", "remap_stock_keys"]

logger = logging.getLogger(__name__)

_DDP_PREFIX = "module."
_EXAMPLES = 3


def _wrapped_name(key: str, detector_prefix: str, backbones: list[str], model_keys: set) -> str:
    """``key`` renamed into ``model_keys`` by the detector and backbone prefixes, or ``key``."""
    candidates = [key, detector_prefix + key] if detector_prefix else [key]
    for candidate in candidates:
        for path in backbones:
            if candidate.startswith(path):
                wrapped = stock_backbone_key(candidate[len(path) :])
                if wrapped is not None and path + wrapped in model_keys:
                    return path + wrapped
        if candidate in model_keys:
            return candidate
    return key


def remap_stock_keys(model: nn.Module, state_dict: dict[str, Any]) -> dict[str, Any]:
    """``state_dict`` with stock detectron2 key names moved to where ``model`` keeps them.

    Keys already in ``model.state_dict()`` stay; another key ``k`` becomes ``detector.k`` when
    ``model`` is a ``TSJNetJointModel`` and that is a model key, and a backbone key
    ``<path>.<name>`` of a :class:`TSJNetBackbone` at ``<path>`` becomes ``<path>.inner.<name>``
    when that is one. Unmatched keys are kept as they are (detectron2 reports them).
    """
    model_keys = set(model.state_dict())
    detector = getattr(model, "detector", None)
    detector_prefix = "detector." if isinstance(detector, nn.Module) else ""
    backbones = [f"{n}." for n, m in model.named_modules() if isinstance(m, TSJNetBackbone)]
    out = {}
    for key, value in state_dict.items():
        if key.startswith(_DDP_PREFIX) and key not in model_keys:
            key = key[len(_DDP_PREFIX) :]
        if key not in model_keys:
            key = _wrapped_name(key, detector_prefix, backbones, model_keys)
        out[key] = value
    return out


class TSJCheckpointer(DetectionCheckpointer):
    """A :class:`DetectionCheckpointer` that loads stock weights into the TSJNet models
    (:func:`remap_stock_keys`) and raises when no weight of the file matches the model."""

    _source: str = ""

    def load(self, path: str, *args: Any, **kwargs: Any) -> dict[str, Any]:
        self._source = path
        return super().load(path, *args, **kwargs)

    def _load_model(self, checkpoint: dict[str, Any]) -> Any:
        state = checkpoint["model"]
        names = list(state)
        model_keys = self.model.state_dict()
        if checkpoint.pop("matching_heuristics", False):  # Caffe2/pycls files: detectron2's way
            self._convert_ndarray_to_tensor(state)
            caffe2 = checkpoint.get("__author__") == "Caffe2"
            state = align_and_update_state_dicts(model_keys, state, c2_conversion=caffe2)
            renamed = 0
        else:
            state = remap_stock_keys(self.model, state)
            renamed = sum(a != b for a, b in zip(names, state))
        checkpoint["model"] = state
        matched = sum(k in model_keys for k in state)
        incompatible = super()._load_model(checkpoint)
        loaded = matched - len(incompatible.incorrect_shapes)
        if loaded == 0:
            raise ValueError(
                f"{self._source or 'checkpoint'}: none of its {len(names)} weights matches the "
                f"model (checkpoint keys like {names[:_EXAMPLES]}, model keys like "
                f"{list(model_keys)[:_EXAMPLES]}): it is not a checkpoint of this model, its "
                "detector or its inner backbone"
            )
        logger.info(
            "%s: loaded %d of the model's %d weights (%d checkpoint keys renamed to the TSJNet "
            "layout)",
            self._source,
            loaded,
            len(model_keys),
            renamed,
        )
        return incompatible
