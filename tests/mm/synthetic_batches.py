"""Collated training batches of the embedded synthetic pairs, for the mm model tests.

Imported as `synthetic_batches` by the test modules beside it (pytest's "prepend" import mode
puts this folder, which has no `__init__.py`, on `sys.path`).
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from mmengine.dataset import pseudo_collate
from mmengine.registry import DATASETS, init_default_scope

import tsjnet_plugin.mm  # noqa: F401  (registers TSJPairDataset and the pair transforms)

__all__ = ["synthetic_batch"]


def synthetic_batch(
    root: Path,
    scope: str,
    task: str,
    pipeline: list[dict],
    reader_args: dict,
    indices: Iterable[int],
) -> dict:
    """Samples `indices` of the synthetic train split under `root` (written on first use),
    through `pipeline` with `scope` as the default scope, collated as a runner would."""
    init_default_scope(scope)
    dataset = DATASETS.build(
        dict(
            type="TSJPairDataset",
            reader="synthetic",
            data_root=str(root),
            reader_args=reader_args,
            task=task,
            split="train",
            pipeline=pipeline,
        )
    )
    return pseudo_collate([dataset[i] for i in indices])
