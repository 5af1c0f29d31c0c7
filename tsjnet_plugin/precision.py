"""Mixed-precision dtypes by name, one table for every tool and adapter (framework-free)."""

from __future__ import annotations

import torch

__all__ = ["AMP_DTYPES", "amp_dtype"]

# Autocast dtypes by their config/CLI name: float16 needs gradient scaling in training,
# bfloat16 (float32's exponent range) does not.
AMP_DTYPES: dict[str, torch.dtype] = {"float16": torch.float16, "bfloat16": torch.bfloat16}


def amp_dtype(name: str, setting: str = "amp") -> torch.dtype:
    """The autocast dtype called ``name``.

    Args:
        name: "float16" or "bfloat16".
        setting: the option that gave ``name``, for the error message.

    Raises:
        ValueError: an unknown name.
    """
    if name not in AMP_DTYPES:
        raise ValueError(f"{setting} must be one of {sorted(AMP_DTYPES)}, got {name!r}")
    return AMP_DTYPES[name]
