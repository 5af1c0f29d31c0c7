"""Helpers of the CUDA tests, imported as `gpu_helpers` by the modules beside it."""

import torch

__all__ = ["relative_error"]


def relative_error(actual: torch.Tensor, expected: torch.Tensor) -> float:
    """``|actual - expected| / |expected|`` over the flattened tensors."""
    expected = expected.float().flatten()
    return float((actual.float().flatten() - expected).norm() / expected.norm().clamp_min(1e-12))
