"""Safe loading of mmengine checkpoints: `torch.load(weights_only=True)` with the few non-tensor
types mmengine stores allow-listed, so no code named by a file runs while it is read.

An mmengine checkpoint (`meta`, `state_dict`, `message_hub`, `optimizer`, `param_schedulers`)
holds, besides tensors and containers: numpy arrays, dtypes and scalars (the message hub's
`HistoryBuffer` logs and runtime info) and `mmengine.logging.HistoryBuffer` objects, whose
statistics methods are pickled as `getattr(HistoryBuffer, "mean")` and so on. Exactly these are
allowed; `getattr` resolves only those four methods of `HistoryBuffer`.

`install_safe_loader()` registers `load_local_checkpoint` as mmengine's loader of local paths
(`CheckpointLoader.register_scheme(prefixes="")`, the extension point mmengine's own loaders use),
so `Runner.load_checkpoint`, `Runner.resume` and `init_cfg=dict(type="Pretrained", ...)` all read
local files through it.
"""

from __future__ import annotations

import os
import pickle
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from mmengine.logging import HistoryBuffer
from mmengine.runner import CheckpointLoader

from tsjnet_plugin.fusion.checkpoint import CheckpointError, load_failure_reason

__all__ = ["MMENGINE_SAFE_GLOBALS", "install_safe_loader", "load_local_checkpoint"]

_HISTORY_STATISTICS = frozenset({"min", "max", "mean", "current"})


def _history_buffer_method(owner: Any, name: str) -> Callable:
    """Stands in for `builtins.getattr` while loading: only `HistoryBuffer.<statistic>`."""
    if owner is not HistoryBuffer or name not in _HISTORY_STATISTICS:
        raise pickle.UnpicklingError(
            f"getattr({owner!r}, {name!r}) is not allowed; only HistoryBuffer's statistics "
            f"methods {sorted(_HISTORY_STATISTICS)}"
        )
    return getattr(HistoryBuffer, name)


def _numpy_globals() -> list[tuple[Any, str]]:
    """numpy's array, dtype and scalar reconstruction, under both module names numpy uses."""
    multiarray = np._core.multiarray if hasattr(np, "_core") else np.core.multiarray
    entries: list[tuple[Any, str]] = [(np.ndarray, "numpy.ndarray"), (np.dtype, "numpy.dtype")]
    for package in ("numpy.core", "numpy._core"):
        entries.append((multiarray._reconstruct, f"{package}.multiarray._reconstruct"))
        entries.append((multiarray.scalar, f"{package}.multiarray.scalar"))
    entries += [
        (getattr(np.dtypes, name), f"numpy.dtypes.{name}")
        for name in dir(np.dtypes)
        if name.endswith("DType")
    ]
    return entries


MMENGINE_SAFE_GLOBALS: list[tuple[Any, str]] = [
    *_numpy_globals(),
    (HistoryBuffer, "mmengine.logging.history_buffer.HistoryBuffer"),
    (_history_buffer_method, "builtins.getattr"),
]
"""`(object, pickled name)` pairs allowed on top of torch's `weights_only` defaults."""


def load_local_checkpoint(
    filename: str | os.PathLike[str], map_location: Any = None, *, trusted: bool = False
) -> Any:
    """Read a local checkpoint with `weights_only=True` and `MMENGINE_SAFE_GLOBALS` allowed.

    Args:
        filename: the checkpoint file (`~` is expanded).
        map_location: as for `torch.load`.
        trusted: unpickle everything (`weights_only=False`): only for a file whose source the
            user vouches for (`--trust-checkpoint` of the mm tools).

    Raises:
        FileNotFoundError: no such file.
        CheckpointError: the file names a global outside the allow-list (the message names it
            and does not run it) or is not a readable torch checkpoint.
    """
    path = Path(filename).expanduser()
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint {path} does not exist")
    if trusted:
        return torch.load(path, map_location=map_location, weights_only=False)
    try:
        with torch.serialization.safe_globals(MMENGINE_SAFE_GLOBALS):
            return torch.load(path, map_location=map_location, weights_only=True)
    except Exception as err:
        raise CheckpointError(_refusal(path, err)) from None


def _refusal(path: Path, err: Exception) -> str:
    """One line: the globals the file names that are not data, or why it cannot be read."""
    try:
        allowed = {name for _, name in MMENGINE_SAFE_GLOBALS}
        unsafe = torch.serialization.get_unsafe_globals_in_checkpoint(path)
        offending = [name for name in unsafe if name not in allowed]
    except Exception:  # not a zip checkpoint: nothing to list
        offending = []
    if offending:
        return (
            f"refusing to load checkpoint {path}: it pickles {', '.join(offending)}, which is "
            "not data (mmengine checkpoints hold tensors, numpy data and HistoryBuffer); pass "
            "--trust-checkpoint only if you trust where the file came from"
        )
    return (
        f"cannot read checkpoint {path}: {load_failure_reason(err)}; the file is truncated or "
        "not a torch checkpoint"
    )


def install_safe_loader(trusted: bool = False) -> None:
    """Make mmengine read local checkpoints with `load_local_checkpoint` (process-wide)."""

    def load_from_local(filename: str, map_location: Any = None) -> Any:
        return load_local_checkpoint(filename, map_location, trusted=trusted)

    CheckpointLoader.register_scheme(prefixes="", loader=load_from_local, force=True)
