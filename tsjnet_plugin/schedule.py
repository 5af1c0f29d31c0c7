"""Which task losses flow into the shared fusion trunk at each iteration (framework-neutral).

Modes:

* ``"sum"``: every task every iteration, one backward of the summed losses (the official code);
* ``"alternate"``: the tasks take turns, one per iteration (``det, seg, det, seg, ...``);
* ``"ratio"``: turns in proportion to ``ratio``, e.g. ``(2, 1)`` gives ``det, det, seg, ...``.

The fusion loss is computed at every iteration in every mode. The schedule is a pure function of
the iteration, so resuming at iteration ``i`` resumes the same task as an uninterrupted run.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

MODES = ("sum", "alternate", "ratio")


@dataclass(frozen=True)
class TaskSchedule:
    """Task schedule over the iterations of one training run.

    Args:
        mode: ``"sum"``, ``"alternate"`` or ``"ratio"``.
        tasks: task names in turn order, e.g. ``("det", "seg")``.
        ratio: iterations per turn of each task (``"ratio"`` mode only); ``alternate`` is
            ``ratio = (1, 1, ...)``.
    """

    mode: str = "alternate"
    tasks: tuple[str, ...] = ("det", "seg")
    ratio: tuple[int, ...] = ()

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ValueError(f"unknown schedule mode {self.mode!r}; choose from {MODES}")
        if not self.tasks or len(set(self.tasks)) != len(self.tasks):
            raise ValueError(f"schedule tasks must be distinct and non-empty, got {self.tasks}")
        object.__setattr__(self, "tasks", tuple(self.tasks))
        ratio = tuple(int(r) for r in self.ratio) or (1,) * len(self.tasks)
        if self.mode == "ratio" and (len(ratio) != len(self.tasks) or min(ratio) < 1):
            raise ValueError(
                f"ratio {self.ratio} must give a positive count for each task {self.tasks}"
            )
        object.__setattr__(self, "ratio", ratio if self.mode == "ratio" else (1,) * len(self.tasks))

    @property
    def cycle(self) -> tuple[tuple[str, ...], ...]:
        """The repeating sequence of per-iteration task sets."""
        if self.mode == "sum":
            return (self.tasks,)
        return tuple((task,) for task, count in zip(self.tasks, self.ratio) for _ in range(count))

    def tasks_at(self, iteration: int) -> tuple[str, ...]:
        """Task losses active at ``iteration`` (0-based)."""
        if iteration < 0:
            raise ValueError(f"iteration must be >= 0, got {iteration}")
        cycle = self.cycle
        return cycle[iteration % len(cycle)]

    def state_dict(self) -> dict:
        return {"mode": self.mode, "tasks": list(self.tasks), "ratio": list(self.ratio)}


def build_schedule(mode: str, tasks: Sequence[str], ratio: Sequence[int] = ()) -> TaskSchedule:
    """A :class:`TaskSchedule`, restricted to the ``tasks`` the model actually has."""
    return TaskSchedule(mode, tuple(tasks), tuple(ratio))
