"""Fusion checkpoints: the official four-part format and ours; atomic saving; safe loading.

* Official (``XylonXu01/TSJNet``): ``{"DIDF_Encoder": sd, "DIDF_Decoder": sd, "BaseFuseLayer": sd,
  "DetailFuseLayer": sd}``, one state dict per sub-network.
* Ours: ``{"format": "tsjnet_plugin.fusion", "version": 1, "arch": {...}, "state_dict": sd,
  "meta": {...}}`` where ``sd`` is :meth:`TSJNet.state_dict` and ``arch`` its
  :class:`TSJNetConfig` as a dict.

Every file is read without running code it names: ``torch.load(weights_only=True)``, or for
framework checkpoints that pickle more than data, an unpickler that replaces every non-data
global with an inert placeholder (see :func:`read_checkpoint`).
"""

from __future__ import annotations

import functools
import importlib
import os
import pickle
import re
import tempfile
import types
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from torch import _weights_only_unpickler, nn

from .official import ARCHS, RUNTIME_OPTIONS, TSJNet, TSJNetConfig
from .pretrained import resolve_weights

__all__ = [
    "FORMAT",
    "FORMAT_VERSION",
    "OFFICIAL_PARTS",
    "CheckpointError",
    "atomic_torch_save",
    "build_model_from_checkpoint",
    "checkpoint_payload",
    "load_checkpoint",
    "official_state_dict",
    "read_checkpoint",
    "save_checkpoint",
]

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


def remove_partial_saves(folder: str | os.PathLike) -> list[Path]:
    """Delete the temporary files an interrupted :func:`atomic_torch_save` left in ``folder``
    (``.<name>.<random>.tmp``; the finished files are never touched). Returns what it removed;
    call it when a run starts, before any save of its own."""
    return remove_temp_files(Path(folder), ".tmp")


def remove_temp_files(folder: Path, suffix: str) -> list[Path]:
    """Delete ``folder/.<name>.<8 mkstemp characters><suffix>`` files (temporary files of the
    atomic writers); returns what it removed."""
    pattern = re.compile(r"\..+\.[a-z0-9_]{8}" + re.escape(suffix))
    if not folder.is_dir():
        return []
    removed = [p for p in sorted(folder.iterdir()) if p.is_file() and pattern.fullmatch(p.name)]
    for path in removed:
        path.unlink(missing_ok=True)
    return removed


def save_checkpoint(
    model: TSJNet, path: str | os.PathLike, meta: Mapping[str, Any] | None = None
) -> Path:
    """Save ``model`` in our format, atomically. ``meta`` must hold plain Python values."""
    return atomic_torch_save(checkpoint_payload(model, meta), path)


def checkpoint_payload(model: TSJNet, meta: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """``model`` in our format as a dict (what :func:`save_checkpoint` writes); callers may add
    entries, such as a trainer's state, before saving it with :func:`atomic_torch_save`."""
    return {
        "format": FORMAT,
        "version": FORMAT_VERSION,
        "arch": model.cfg.to_dict(),
        "state_dict": model.state_dict(),
        "meta": dict(meta or {}),
    }


def official_state_dict(model: TSJNet) -> dict[str, dict[str, torch.Tensor]]:
    """``model``'s weights in the official four-part layout."""
    return {part: getattr(model, attr).state_dict() for part, attr in OFFICIAL_PARTS.items()}


class _Inert:
    """Stands in for a pickled global that is not data: building or calling it does nothing."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        pass

    def __setstate__(self, state: Any) -> None:
        pass

    def __call__(self, *args: Any, **kwargs: Any) -> _Inert:
        return _Inert()


@functools.cache
def _torch_data_globals() -> dict[str, Any]:
    return _weights_only_unpickler._get_allowed_globals()


class _DataOnlyUnpickler(pickle.Unpickler):
    """Resolves only the globals torch's ``weights_only`` loader allows, plus numpy arrays and
    scalars; every other global (functions, framework classes) becomes an inert :class:`_Inert`,
    so no code named by the file runs while it is read."""

    def find_class(self, module: str, name: str) -> Any:
        allowed = _torch_data_globals()
        full = f"{module}.{name}"
        if full in allowed:
            return allowed[full]
        if full in _NUMPY_DATA or full.startswith("numpy.dtypes."):
            return getattr(importlib.import_module(module), name)
        return _Inert


_NUMPY_DATA = frozenset(
    {
        "numpy.core.multiarray._reconstruct",
        "numpy._core.multiarray._reconstruct",
        "numpy.core.multiarray.scalar",
        "numpy._core.multiarray.scalar",
        "numpy.ndarray",
        "numpy.dtype",
    }
)
_data_only_pickle = types.SimpleNamespace(
    __name__="tsjnet_data_only_pickle", Unpickler=_DataOnlyUnpickler, load=pickle.load
)


def read_checkpoint(path: str | os.PathLike) -> dict[str, Any]:
    """Load a checkpoint file safely, on CPU, with clear errors.

    ``path`` may also be the name of shipped weights (:data:`~.pretrained.PRETRAINED`). Files are
    read with ``torch.load(weights_only=True)``; a framework checkpoint that also pickles other
    objects (mmengine's message hub, numpy scalars in its meta) is read with
    :class:`_DataOnlyUnpickler`, which keeps tensors, containers and numpy data and replaces
    everything else with inert placeholders instead of running it.
    """
    path = resolve_weights(path)
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as err:
        if "weights_only" not in str(err):
            raise _unreadable(path, err) from err
        try:
            payload = torch.load(
                path, map_location="cpu", weights_only=False, pickle_module=_data_only_pickle
            )
        except Exception as inner:
            raise _unreadable(path, inner) from inner
    except Exception as err:
        raise _unreadable(path, err) from err
    if not isinstance(payload, Mapping):
        raise CheckpointError(
            f"checkpoint {path} holds a {type(payload).__name__}, expected a dict"
        )
    return dict(payload)


def _unreadable(path: Path, err: BaseException) -> CheckpointError:
    return CheckpointError(
        f"cannot read checkpoint {path}: {load_failure_reason(err)}. The file may be "
        "truncated or not a torch checkpoint."
    )


def load_failure_reason(err: BaseException) -> str:
    """The cause of a failed ``torch.load`` in one short line, without torch's advice to retry
    with ``weights_only=False`` (which would run any code the file names)."""
    text = str(err)
    marker = "WeightsUnpickler error:"
    if marker in text:
        text = text.split(marker, 1)[1].split("Check the documentation", 1)[0]
    first = " ".join(text.split()).split(". ")[0][:200].rstrip(".")
    return f"{type(err).__name__}: {first}"


def _checkpoint_kind(payload: Mapping[str, Any]) -> str:
    """``"ours"``, ``"official"`` or ``"state_dict"`` (a bare :class:`TSJNet` state dict, or a
    framework checkpoint that holds one, see :func:`_fusion_state_dict`)."""
    if payload.get("format") == FORMAT:
        return "ours"
    if set(OFFICIAL_PARTS) <= set(payload):
        return "official"
    return "state_dict"


# Every TSJNet state dict has this key; what precedes it in a larger state dict is the prefix of
# the fusion sub-model (joint models: "fusion.net.", older detectron2 checkpoints "fusion.";
# mm: "data_preprocessor.front_end.net.", "backbone.front_end.net.").
_FUSION_ANCHOR = "encoder.patch_embed.proj.weight"


def _describe(payload: Mapping[str, Any]) -> str:
    keys = sorted(str(k) for k in payload)
    shown = ", ".join(keys[:8]) + (f", ... (+{len(keys) - 8} more)" if len(keys) > 8 else "")
    tensors = sum(isinstance(v, torch.Tensor) for v in payload.values())
    return f"a dict of {len(keys)} entries ({tensors} tensors): {shown}"


def _fusion_state_dict(payload: Mapping[str, Any], path: str | os.PathLike) -> dict[str, Any]:
    """The :class:`TSJNet` state dict inside a bare state dict or a framework checkpoint.

    Looks in ``payload`` itself, in ``payload["model"]`` (detectron2 ``model_final.pth``) and in
    ``payload["state_dict"]`` (mmengine), and strips the prefix of the fusion sub-model
    (``fusion.net.``, ``data_preprocessor.front_end.net.``, ``module.`` ...).

    Raises:
        CheckpointError: no fusion weights, or several fusion sub-models; the message says
            what the file holds.
    """
    for where in (None, "model", "state_dict"):
        candidate = payload if where is None else payload.get(where)
        if not isinstance(candidate, Mapping):
            continue
        prefixes = sorted(
            {k[: -len(_FUSION_ANCHOR)] for k in candidate if str(k).endswith(_FUSION_ANCHOR)}
        )
        if len(prefixes) > 1:
            raise CheckpointError(
                f"{path} holds several fusion networks (prefixes {prefixes}); extract one with "
                "official_state_dict() or save_checkpoint() from the framework model"
            )
        if prefixes:
            prefix = prefixes[0]
            return {k[len(prefix) :]: v for k, v in candidate.items() if k.startswith(prefix)}
    inner = [k for k in ("model", "state_dict") if isinstance(payload.get(k), Mapping)]
    holds = _describe(payload) + "".join(
        f"; its {k!r} entry is {_describe(payload[k])}" for k in inner
    )
    raise CheckpointError(
        f"{path} holds no TSJNet fusion weights (no key ending in {_FUSION_ANCHOR!r}). It holds "
        f"{holds}. Expected ours, the official four-part TSJNet.pth, or a detectron2/mmengine "
        "checkpoint of a model with a TSJNet fusion network."
    )


def _infer_arch(state_dict: Mapping[str, torch.Tensor], path: str | os.PathLike) -> str:
    """The preset of :data:`ARCHS` whose keys and shapes equal those of ``state_dict``.

    Raises:
        CheckpointError: no preset fits.
    """
    shapes = {k: tuple(v.shape) for k, v in state_dict.items()}
    for name, cfg in ARCHS.items():
        with torch.device("meta"):
            expected = TSJNet(cfg).state_dict()
        if shapes == {k: tuple(v.shape) for k, v in expected.items()}:
            return name
    raise CheckpointError(
        f"the fusion weights in {path} fit none of the presets {sorted(ARCHS)}; build the "
        "model with matching TSJNetConfig options and use load_checkpoint()"
    )


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

    ``path`` is a file or the name of shipped weights (e.g. ``"tsjnet_fast_roadscene"``).

    A ``"module."`` prefix (DataParallel) is stripped. Returns the ``meta`` of our format (empty
    for other formats).

    Raises:
        FileNotFoundError: no such file.
        CheckpointError: unreadable/truncated file, or keys/shapes that do not fit the model,
            naming every missing, unexpected or mis-shaped key.
    """
    return _load_payload(model, read_checkpoint(path), path)


def _load_payload(
    model: TSJNet, payload: Mapping[str, Any], path: str | os.PathLike
) -> dict[str, Any]:
    """:func:`load_checkpoint` for an already-read checkpoint dict (``path`` is for messages)."""
    kind = _checkpoint_kind(payload)
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
        shape_keys = [k for k in saved if k not in RUNTIME_OPTIONS]
        differing = {k: (saved[k], current[k]) for k in shape_keys if saved[k] != current[k]}
        if differing:
            raise CheckpointError(
                f"checkpoint {path} was saved for a different architecture: "
                + ", ".join(f"{k}: checkpoint {a} vs model {b}" for k, (a, b) in differing.items())
                + "; build the model with build_model_from_checkpoint() or matching options"
            )
        _load_strict(model, payload["state_dict"], f"checkpoint {path}")
        return dict(payload.get("meta", {}))
    _load_strict(model, _fusion_state_dict(payload, path), f"fusion weights in {path}")
    return {}


def build_model_from_checkpoint(path: str | os.PathLike, **overrides: Any) -> TSJNet:
    """Build the architecture stored in ``path`` and load its fusion weights.

    ``path`` (a file or a shipped name) may hold ours (the architecture is stored), the official
    four-part file (the official architecture), or a bare or framework state dict (detectron2
    ``model_final.pth``, mmengine checkpoint), whose architecture is the preset that fits its
    shapes. ``overrides`` change non-structural options such as ``attention_backend``.
    """
    payload = read_checkpoint(path)
    kind = _checkpoint_kind(payload)
    if kind == "ours":
        arch = dict(payload["arch"])
    elif kind == "official":
        arch = {}
    else:
        arch = ARCHS[_infer_arch(_fusion_state_dict(payload, path), path)].to_dict()
    arch.update(overrides)
    model = TSJNet(TSJNetConfig(**arch))
    _load_payload(model, payload, path)
    return model
