"""Fusion checkpoints: the official four-part format and ours; atomic saving; safe loading.

* Official (``XylonXu01/TSJNet``): ``{"DIDF_Encoder": sd, "DIDF_Decoder": sd, "BaseFuseLayer": sd,
  "DetailFuseLayer": sd}``, one state dict per sub-network.
* Ours: ``{"format": "tsjnet_plugin.fusion", "version": 1, "arch": {...}, "state_dict": sd,
  "meta": {...}}`` where ``sd`` is :meth:`TSJNet.state_dict` and ``arch`` its
  :class:`TSJNetConfig` as a dict.

Every file is read with ``torch.load(weights_only=True)``: tensors and plain containers only, no
arbitrary pickled objects.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from torch import nn

from .official import TSJNet, TSJNetConfig

FORMAT = "tsjnet_plugin.fusion"
FORMAT_VERSION = 1
# Official checkpoint part -> attribute of TSJNet.
OFFICIAL_PARTS = {
    "DIDF_Encoder": "encoder",
    "DIDF_Decoder": "decoder",
    "BaseFuseLayer": "base_fuse",
    "DetailFuseLayer": "detail_fuse",
}


class CheckpointError(RuntimeError):
    """A checkpoint file that cannot be read or does not fit the model."""


def atomic_torch_save(obj: Any, path: str | os.PathLike) -> Path:
    """``torch.save`` to a temporary file in the target folder, fsync, then rename over ``path``.

    A crash while writing leaves any previous file at ``path`` intact.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            torch.save(obj, handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def save_checkpoint(
    model: TSJNet, path: str | os.PathLike, meta: Mapping[str, Any] | None = None
) -> Path:
    """Save ``model`` in our format, atomically. ``meta`` must hold plain Python values."""
    payload = {
        "format": FORMAT,
        "version": FORMAT_VERSION,
        "arch": model.cfg.to_dict(),
        "state_dict": model.state_dict(),
        "meta": dict(meta or {}),
    }
    return atomic_torch_save(payload, path)


def official_state_dict(model: TSJNet) -> dict[str, dict[str, torch.Tensor]]:
    """``model``'s weights in the official four-part layout."""
    return {part: getattr(model, attr).state_dict() for part, attr in OFFICIAL_PARTS.items()}


def read_checkpoint(path: str | os.PathLike) -> dict[str, Any]:
    """Load a checkpoint file safely (``weights_only=True``, on CPU), with clear errors."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint not found: {path}")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:
        raise CheckpointError(
            f"cannot read checkpoint {path}: {type(err).__name__}: {err}. The file may be truncated "
            "or not a torch checkpoint (only tensors and plain containers are accepted)."
        ) from err
    if not isinstance(payload, Mapping):
        raise CheckpointError(
            f"checkpoint {path} holds a {type(payload).__name__}, expected a dict"
        )
    return dict(payload)


def checkpoint_kind(payload: Mapping[str, Any]) -> str:
    """``"ours"``, ``"official"`` or ``"state_dict"`` (a bare :class:`TSJNet` state dict)."""
    if payload.get("format") == FORMAT:
        return "ours"
    if set(OFFICIAL_PARTS) <= set(payload):
        return "official"
    return "state_dict"


def _strip_prefix(state_dict: Mapping[str, torch.Tensor], prefix: str) -> dict[str, torch.Tensor]:
    if prefix and all(k.startswith(prefix) for k in state_dict):
        return {k[len(prefix) :]: v for k, v in state_dict.items()}
    return dict(state_dict)


def _load_strict(module: nn.Module, state_dict: Mapping[str, torch.Tensor], where: str) -> None:
    """``load_state_dict(strict=True)`` with an error that lists every offending key."""
    expected = module.state_dict()
    missing = sorted(set(expected) - set(state_dict))
    unexpected = sorted(set(state_dict) - set(expected))
    wrong_shape = sorted(
        f"{k}: checkpoint {tuple(state_dict[k].shape)} vs model {tuple(expected[k].shape)}"
        for k in set(expected) & set(state_dict)
        if tuple(state_dict[k].shape) != tuple(expected[k].shape)
    )
    if missing or unexpected or wrong_shape:

        def show(keys: list[str]) -> str:
            return ", ".join(keys[:10]) + (
                f" ... (+{len(keys) - 10} more)" if len(keys) > 10 else ""
            )

        problems = [
            f"{label} ({len(keys)}): {show(keys)}"
            for label, keys in (
                ("missing keys", missing),
                ("unexpected keys", unexpected),
                ("shape mismatches", wrong_shape),
            )
            if keys
        ]
        raise CheckpointError(f"{where} does not match the model: " + "; ".join(problems))
    module.load_state_dict(state_dict, strict=True)


def load_checkpoint(model: TSJNet, path: str | os.PathLike) -> dict[str, Any]:
    """Load fusion weights into ``model`` (strictly) from ours, the official, or a bare state dict.

    A ``"module."`` prefix (DataParallel) is stripped. Returns the ``meta`` of our format (empty
    for other formats).

    Raises:
        FileNotFoundError: no such file.
        CheckpointError: unreadable/truncated file, or keys/shapes that do not fit the model,
            naming every missing, unexpected or mis-shaped key.
    """
    return load_payload(model, read_checkpoint(path), path)


def load_payload(
    model: TSJNet, payload: Mapping[str, Any], path: str | os.PathLike
) -> dict[str, Any]:
    """:func:`load_checkpoint` for an already-read checkpoint dict (``path`` is for messages)."""
    kind = checkpoint_kind(payload)
    if kind == "official":
        for part, attr in OFFICIAL_PARTS.items():
            state = _strip_prefix(payload[part], "module.")
            _load_strict(getattr(model, attr), state, f"official checkpoint {path} part {part!r}")
        return {}
    if kind == "ours":
        if payload.get("version", 0) > FORMAT_VERSION:
            raise CheckpointError(
                f"{path} has format version {payload['version']} > {FORMAT_VERSION}"
            )
        saved = TSJNetConfig(**payload["arch"]).to_dict()
        current = model.cfg.to_dict()
        shape_keys = [
            k for k in saved if k not in ("attention_backend", "pad_mode", "drop_path_rate")
        ]
        differing = {k: (saved[k], current[k]) for k in shape_keys if saved[k] != current[k]}
        if differing:
            raise CheckpointError(
                f"checkpoint {path} was saved for a different architecture: "
                + ", ".join(f"{k}: checkpoint {a} vs model {b}" for k, (a, b) in differing.items())
                + "; build the model with build_model_from_checkpoint() or matching options"
            )
        _load_strict(model, payload["state_dict"], f"checkpoint {path}")
        return dict(payload.get("meta", {}))
    _load_strict(model, _strip_prefix(payload, "module."), f"state dict {path}")
    return {}


def build_model_from_checkpoint(path: str | os.PathLike, **overrides: Any) -> TSJNet:
    """Build the architecture stored in ``path`` (ours) or the official one, and load the weights.

    ``overrides`` change non-structural options such as ``attention_backend``.
    """
    payload = read_checkpoint(path)
    arch = dict(payload["arch"]) if checkpoint_kind(payload) == "ours" else {}
    arch.update(overrides)
    model = TSJNet(TSJNetConfig(**arch))
    load_payload(model, payload, path)
    return model
