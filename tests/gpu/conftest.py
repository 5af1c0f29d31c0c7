"""Shared fixtures of the CUDA tests (every module here is marked `cuda`; the root conftest skips
those tests where CUDA is not available)."""

from collections.abc import Iterator

import pytest
import torch


@pytest.fixture
def cuda() -> Iterator[torch.device]:
    """The GPU, with deterministic cuDNN so that two runs of one network agree closely."""
    saved = torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark
    torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark = True, False
    yield torch.device("cuda")
    torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark = saved
