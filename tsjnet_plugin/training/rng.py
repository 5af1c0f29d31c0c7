"""Capture and restore every random number generator a training run draws from.

The state is plain data (ints, lists, CPU tensors), so it pickles into any checkpoint and loads
with ``torch.load(weights_only=True)``:

``{"python": random.getstate(), "numpy": {...}, "torch": ByteTensor, "cuda": [ByteTensor, ...]}``

``"cuda"`` holds one state per visible device (empty when CUDA is not initialised); it is
restored only when the same number of devices is visible.
"""

from __future__ import annotations

import random
from typing import Any

import numpy as np
import torch

__all__ = ["capture_rng_state", "restore_rng_state"]


def capture_rng_state() -> dict[str, Any]:
    """The states of Python's ``random``, numpy's global generator, torch's CPU generator and
    every initialised CUDA device's generator."""
    numpy_state = np.random.get_state(legacy=False)  # noqa: NPY002 (the global generator)
    return {
        "python": random.getstate(),
        "numpy": {
            "bit_generator": numpy_state["bit_generator"],
            "key": torch.from_numpy(numpy_state["state"]["key"].astype(np.int64)),
            "pos": int(numpy_state["state"]["pos"]),
            "has_gauss": int(numpy_state["has_gauss"]),
            "gauss": float(numpy_state["gauss"]),
        },
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_initialized() else [],
    }


def restore_rng_state(state: dict[str, Any]) -> None:
    """Set every generator to ``state`` (from :func:`capture_rng_state`).

    Raises:
        ValueError: ``state`` misses one of the generators.
    """
    missing = {"python", "numpy", "torch", "cuda"} - set(state)
    if missing:
        raise ValueError(
            f"RNG state misses {sorted(missing)}; was it written by capture_rng_state?"
        )
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))
    saved = state["numpy"]
    np.random.set_state(  # noqa: NPY002 (the global generator)
        {
            "bit_generator": saved["bit_generator"],
            "state": {"key": saved["key"].numpy().astype(np.uint32), "pos": saved["pos"]},
            "has_gauss": saved["has_gauss"],
            "gauss": saved["gauss"],
        }
    )
    torch.set_rng_state(state["torch"])
    cuda = state["cuda"]
    if cuda and torch.cuda.is_available() and len(cuda) == torch.cuda.device_count():
        torch.cuda.set_rng_state_all(cuda)
