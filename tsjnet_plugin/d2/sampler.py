"""detectron2's infinite training stream, startable at any position (for an exact ``--resume``).

detectron2's :class:`~detectron2.data.samplers.TrainingSampler` yields the indices
``shuffle(range(n)) + shuffle(range(n)) + ...`` of a generator seeded with ``seed``, rank ``r``
of ``w`` taking every ``w``-th index from position ``r``. :class:`ResumableTrainingSampler`
yields the same stream from global position ``start``: a run resumed after ``k`` iterations of
``b`` images per iteration (all ranks together) with ``start = k * b`` sees exactly the images
the uninterrupted run saw from iteration ``k`` on (when the batches are formed in stream order,
i.e. all images fall in one aspect-ratio group, as in MSRS, M3FD and LLVIP).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator

from detectron2.data.samplers import TrainingSampler

__all__ = ["ResumableTrainingSampler"]


class ResumableTrainingSampler(TrainingSampler):
    """:class:`TrainingSampler` whose stream starts at global position ``start``.

    Args:
        size: number of samples in the dataset.
        shuffle: shuffle each pass over the dataset.
        seed: seed of the shuffle (the same on every rank; None: a shared random seed).
        start: samples of the global stream (all ranks) already consumed.
    """

    def __init__(
        self, size: int, shuffle: bool = True, seed: int | None = None, start: int = 0
    ) -> None:
        super().__init__(size, shuffle, seed)
        if start < 0:
            raise ValueError(f"start must be >= 0, got {start}")
        self.start = start

    def __iter__(self) -> Iterator[int]:
        yield from itertools.islice(
            self._infinite_indices(), self.start + self._rank, None, self._world_size
        )
