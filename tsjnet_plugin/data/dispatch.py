"""One reader dispatch for every front end: a reader name and a root folder -> a `PairDataset`."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from .readers import read_llvip, read_m3fd, read_msrs, read_msrs_det, read_roadscene, read_tno
from .records import PairDataset
from .synthetic import write_synthetic_msrs

__all__ = ["READERS", "read_dataset"]


def _read_synthetic(
    root: Path, split: str = "train", name: str | None = None, **params: int
) -> PairDataset:
    """Write the synthetic set to `root` if it is not there yet (`write_synthetic_msrs`
    parameters in `params`), then read `split` of it."""
    write_synthetic_msrs(root, **params)
    return read_msrs(root, split, name=name or f"synthetic_{split}")


# reader name -> (function(root, [split,] **reader_args), whether it takes a split)
READERS: dict[str, tuple[Callable[..., PairDataset], bool]] = {
    "msrs": (read_msrs, True),
    "msrs_det": (read_msrs_det, True),
    "llvip": (read_llvip, True),
    "synthetic": (_read_synthetic, True),
    "m3fd": (read_m3fd, True),
    "roadscene": (read_roadscene, False),
    "tno": (read_tno, False),
}


def read_dataset(
    reader: str, root: str | Path, split: str | None = None, **reader_args: Any
) -> PairDataset:
    """Index a dataset with one of :data:`READERS`.

    Args:
        reader: "msrs", "msrs_det", "llvip", "synthetic" (these take a split, default
            "train"), "m3fd"
            (split "train" or "test" of our deterministic split, default all pairs),
            "roadscene" or "tno" (these take none).
        root: the dataset folder.
        split: the split of readers that have splits; must be None for the others.
        reader_args: more keyword arguments for the reader (e.g. ``on_error``).

    Raises:
        ValueError: unknown reader, or a split given to a reader without splits.
    """
    if reader not in READERS:
        raise ValueError(f"unknown reader {reader!r}; choose from {sorted(READERS)}")
    function, takes_split = READERS[reader]
    if takes_split:
        if split is None:  # the reader's own default
            return function(Path(root), **reader_args)
        return function(Path(root), split, **reader_args)
    if split is not None:
        raise ValueError(f"reader {reader!r} has no splits, got split={split!r}")
    return function(Path(root), **reader_args)
