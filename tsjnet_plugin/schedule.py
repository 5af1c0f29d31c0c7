"""Which task losses flow into the shared fusion trunk at each iteration (framework-neutral).

Modes:

* ``"sum"``: every task every iteration, one backward of the summed losses (the official code);
* ``"alternate"``: the tasks take turns, one per iteration (``det, seg, det, seg, ...``);
* ``"ratio"``: turns in proportion to ``ratio``, e.g. ``(2, 1)`` gives ``det, det, seg, ...``.

The fusion loss is computed at every iteration in every mode; a model with no task network
trains on it alone (its schedule has no tasks and names none at any iteration). The schedule is a
pure function of the iteration, so resuming at iteration ``i`` resumes the same task as an
uninterrupted run.

Both adapters build theirs with :func:`build_schedule` from the model's tasks; a ``ratio``
written for both tasks (``SCHEDULE.RATIO: [2, 1]``, ``schedule=dict(ratio=(2, 1))``) keeps the
entries of the tasks the model has, so on a segmentation-only model it means "segmentation every
iteration" in both frameworks.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

__all__ = ["MODES", "TASKS", "TaskSchedule", "build_schedule"]

MODES = ("sum", "alternate", "ratio")
TASKS = ("det", "seg")  # every task a joint model can have, in turn order


@dataclass(frozen=True)
class TaskSchedule:
    """Task schedule over the iterations of one training run.

    Args:
        mode: ``"sum"``, ``"alternate"`` or ``"ratio"``.
        tasks: task names in turn order, e.g. ``("det", "seg")``; empty for fusion-only
            training (every iteration then has no task).
        ratio: iterations per turn of each task (``"ratio"`` mode only); ``alternate`` is
            ``ratio = (1, 1, ...)``.
    """

    mode: str = "alternate"
    tasks: tuple[str, ...] = ("det", "seg")
    ratio: tuple[int, ...] = ()

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ValueError(f"unknown schedule mode {self.mode!r}; choose from {MODES}")
        if len(set(self.tasks)) != len(self.tasks):
            raise ValueError(f"schedule tasks must be distinct, got {self.tasks}")
        object.__setattr__(self, "tasks", tuple(self.tasks))
        ratio = tuple(int(r) for r in self.ratio) or (1,) * len(self.tasks)
        if self.mode == "ratio" and (len(ratio) != len(self.tasks) or min(ratio, default=1) < 1):
            raise ValueError(
                f"ratio {self.ratio} must give a positive count for each task {self.tasks}"
            )
        object.__setattr__(self, "ratio", ratio if self.mode == "ratio" else (1,) * len(self.tasks))

    @property
    def cycle(self) -> tuple[tuple[str, ...], ...]:
        """The repeating sequence of per-iteration task sets."""
        if self.mode == "sum" or not self.tasks:
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
    """The :class:`TaskSchedule` of a model with ``tasks``.

    Args:
        mode: ``"sum"``, ``"alternate"`` or ``"ratio"``.
        tasks: the tasks the model has, a subset of :data:`TASKS` (empty: fusion-only
            training); put in :data:`TASKS` order.
        ratio: ``"ratio"`` mode only (ignored otherwise): one count per task of the model, or one
            per task of :data:`TASKS` (``(det, seg)``), of which the model's are kept.

    Raises:
        ValueError: unknown tasks, or a ratio that fits neither.
    """
    unknown = sorted(set(tasks) - set(TASKS))
    if unknown:
        raise ValueError(f"schedule tasks must be a subset of {TASKS}, got {tasks}")
    ordered = tuple(task for task in TASKS if task in tasks)
    ratio = tuple(ratio) if mode == "ratio" else ()
    if ratio and len(ratio) == len(TASKS) and len(ordered) < len(TASKS):
        ratio = tuple(count for task, count in zip(TASKS, ratio) if task in ordered)
    if ratio and len(ratio) != len(ordered):
        raise ValueError(
            f"schedule ratio {ratio} must give one count per task of the model {ordered} or "
            f"per task of {TASKS}"
        )
    return TaskSchedule(mode, ordered, ratio)
