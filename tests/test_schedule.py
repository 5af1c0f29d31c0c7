"""Task schedule: which task steps at each iteration."""

import pytest

from tsjnet_plugin.schedule import TaskSchedule, build_schedule


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


def test_build_schedule_restricts_to_the_models_tasks():
    assert build_schedule("ratio", ("det", "seg"), (2, 1)).ratio == (2, 1)
    seg_only = build_schedule("ratio", ("seg",), (2, 1))  # a (det, seg) ratio keeps seg's entry
    assert seg_only.tasks == ("seg",) and seg_only.ratio == (1,)
    assert [seg_only.tasks_at(i) for i in range(3)] == [("seg",)] * 3
    assert build_schedule("ratio", ("det",), (3, 1)).ratio == (3,)
    assert build_schedule("ratio", ("seg", "det"), (2, 1)).tasks == ("det", "seg")
    assert build_schedule("alternate", ("det",), (5, 7)).ratio == (1,)  # ratio mode only
    with pytest.raises(ValueError, match="one count per task"):
        build_schedule("ratio", ("det", "seg"), (1, 2, 3))
    with pytest.raises(ValueError, match="subset"):
        build_schedule("sum", ("cls",))


def test_a_model_without_task_networks_trains_on_the_fusion_loss_alone():
    for mode in ("sum", "alternate", "ratio"):
        schedule = build_schedule(mode, (), (2, 1))
        assert schedule.tasks == () and [schedule.tasks_at(i) for i in range(3)] == [()] * 3
