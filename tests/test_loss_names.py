"""One loss naming scheme (`tsjnet_plugin.loss_names`) and the core fusion front end."""

import pytest
import torch

from tsjnet_plugin.fusion import FusionFrontEnd, build_fusion_model
from tsjnet_plugin.loss_names import loss_group, task_loss_key, task_losses


@pytest.mark.parametrize(
    ("group", "name", "expected"),
    [
        ("det", "loss_cls", "loss_det_cls"),
        ("det", "loss_rpn_loc", "loss_det_rpn_loc"),
        ("det", "s0.loss_bbox", "loss_det_s0_bbox"),
        ("det", "acc", "det_acc"),
        ("seg", "decode.loss_ce", "loss_seg_decode_ce"),
        ("seg", "loss_sem_seg", "loss_seg_sem_seg"),
        ("seg", "decode.acc_seg", "seg_decode_acc_seg"),
        ("det", "loss", "loss_det"),
    ],
)
def test_task_loss_key(group, name, expected):
    assert task_loss_key(group, name) == expected
    assert loss_group(expected) in ("detection", "segmentation", "task")


def test_task_losses_weights_only_loss_terms_and_can_drop_the_rest():
    raw = {"loss_cls": torch.tensor(2.0), "acc": torch.tensor(90.0), "loss_rpn": [torch.ones(1)]}
    out = task_losses("det", raw, weight=0.5)
    assert out["loss_det_cls"].item() == 1.0 and out["det_acc"].item() == 90.0
    assert out["loss_det_rpn"][0].item() == 0.5
    assert set(task_losses("det", raw, losses_only=True)) == {"loss_det_cls", "loss_det_rpn"}
    with pytest.raises(ValueError, match="loss group"):
        task_loss_key("cls", "loss_x")


def test_front_end_loads_bare_network_state_dicts():
    front_end = FusionFrontEnd("tiny")
    net = build_fusion_model("tiny")
    front_end.load_state_dict(net.state_dict())  # old d2 checkpoints: keys without "net."
    assert all(torch.equal(v, front_end.net.state_dict()[k]) for k, v in net.state_dict().items())
    frozen = FusionFrontEnd("tiny", freeze=True).train()
    assert not frozen.net.training and not frozen.computes_loss
    vis, ir = torch.rand(2, 3, 32, 32), torch.rand(2, 1, 32, 32)
    assert frozen(vis, ir, with_loss=True).losses == {}
    batch = front_end(vis, ir, with_loss=True)
    assert batch.rgb.shape == (2, 3, 32, 32) and batch.fused.shape == (2, 1, 32, 32)
    assert sorted(batch.losses)[0] == "loss_fusion_div"
