"""Task schedule: which task steps at each iteration."""

import pytest

from tsjnet_plugin.schedule import TaskSchedule


def test_alternate():
    s = TaskSchedule("alternate", ("det", "seg"))
    assert [s.tasks_at(i) for i in range(5)] == [("det",), ("seg",), ("det",), ("seg",), ("det",)]


def test_sum_runs_every_task_every_step():
    s = TaskSchedule("sum", ("det", "seg"))
    assert all(s.tasks_at(i) == ("det", "seg") for i in range(4))


def test_ratio_two_to_one():
    s = TaskSchedule("ratio", ("det", "seg"), (2, 1))
    assert [s.tasks_at(i)[0] for i in range(7)] == ["det", "det", "seg", "det", "det", "seg", "det"]


def test_schedule_is_a_function_of_the_iteration_only():
    s = TaskSchedule("ratio", ("det", "seg"), (3, 2))
    state = s.state_dict()
    resumed = TaskSchedule(state["mode"], tuple(state["tasks"]), tuple(state["ratio"]))
    assert [s.tasks_at(i) for i in range(100, 110)] == [
        resumed.tasks_at(i) for i in range(100, 110)
    ]


def test_single_task_and_errors():
    assert TaskSchedule("alternate", ("seg",)).tasks_at(3) == ("seg",)
    with pytest.raises(ValueError, match="unknown schedule mode"):
        TaskSchedule("random")
    with pytest.raises(ValueError, match="positive count"):
        TaskSchedule("ratio", ("det", "seg"), (2,))
    with pytest.raises(ValueError, match="distinct"):
        TaskSchedule("sum", ("det", "det"))
    with pytest.raises(ValueError, match=">= 0"):
        TaskSchedule().tasks_at(-1)
