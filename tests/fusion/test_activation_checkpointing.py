"""Activation checkpointing (`with_cp`): same results and gradients, and really recomputing."""

import pytest
import torch

from tsjnet_plugin import build_fusion_model
from tsjnet_plugin.fusion import FusionLossWeights, TSJFusionLoss

PARTS = ("encoder", "base_fuse", "detail_fuse", "decoder")


def pair(seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    return tuple(torch.rand(2, 1, 96, 96, generator=generator) for _ in range(2))


def loss_and_gradients(with_cp: bool) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """One training forward/backward of the tiny net (with its stochastic depth) on fixed seeds."""
    torch.manual_seed(0)
    model = build_fusion_model("tiny", with_cp=with_cp, drop_path_rate=0.3).train()
    ir, vis = pair()
    criterion = TSJFusionLoss(FusionLossWeights())
    torch.manual_seed(1)  # the drop-path masks
    losses = criterion(model(ir, vis, with_aux=True), ir, vis)
    total = sum(losses.values())
    total.backward()
    return total.detach(), {n: p.grad for n, p in model.named_parameters() if p.requires_grad}


def test_with_cp_gives_the_same_loss_and_gradients():
    plain_loss, plain = loss_and_gradients(False)
    cp_loss, checkpointed = loss_and_gradients(True)
    assert torch.equal(plain_loss, cp_loss)
    assert plain.keys() == checkpointed.keys()
    assert all(plain[n] is not None and plain[n].abs().sum() > 0 for n in plain if ".rpb" in n)
    for name, grad in plain.items():
        torch.testing.assert_close(checkpointed[name], grad, rtol=1e-5, atol=1e-7, msg=name)


def forward_calls(with_cp: bool, train: bool, grad: bool) -> dict[str, int]:
    """Calls of each part's forward during one forward (with_aux) and, with grad, backward
    (pre-hooks: a recomputation stops early, once the tensors backward needs exist)."""
    model = build_fusion_model("tiny", with_cp=with_cp).train(train)
    calls = dict.fromkeys(PARTS, 0)
    for part in PARTS:
        getattr(model, part).register_forward_pre_hook(
            lambda *_, part=part: calls.__setitem__(part, calls[part] + 1)
        )
    with torch.set_grad_enabled(grad):
        out = model(*pair(), with_aux=True)
        if grad:
            sum(t.sum() for t in out).backward()
    return calls


@pytest.mark.parametrize("with_cp", [False, True])
def test_with_cp_recomputes_each_part_in_backward(with_cp):
    once = {"encoder": 2, "base_fuse": 1, "detail_fuse": 1, "decoder": 3}
    expected = {part: n * (2 if with_cp else 1) for part, n in once.items()}
    assert forward_calls(with_cp, train=True, grad=True) == expected


def test_with_cp_is_off_in_eval_and_without_gradients():
    once = {"encoder": 2, "base_fuse": 1, "detail_fuse": 1, "decoder": 3}
    assert forward_calls(True, train=False, grad=True) == once
    assert forward_calls(True, train=True, grad=False) == once


def test_with_cp_is_a_runtime_option_for_checkpoints(tmp_path):
    from tsjnet_plugin.fusion import load_checkpoint, save_checkpoint

    source = build_fusion_model("tiny")
    save_checkpoint(source, tmp_path / "tiny.pth")
    target = build_fusion_model("tiny", with_cp=True)
    load_checkpoint(target, tmp_path / "tiny.pth")
    assert all(torch.equal(a, b) for a, b in zip(source.parameters(), target.parameters()))
