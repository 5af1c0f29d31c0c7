"""On CUDA: activation checkpointing gives the gradients of the plain run with less memory."""

import pytest
import torch
from gpu_helpers import relative_error

from tsjnet_plugin import build_fusion_model
from tsjnet_plugin.fusion import FusionLossWeights, TSJFusionLoss

pytestmark = pytest.mark.cuda


def step(cuda: torch.device, with_cp: bool, precision: torch.dtype) -> tuple[dict, float]:
    """Loss gradients of the official net (stochastic depth on) and the step's peak memory."""
    torch.manual_seed(0)
    model = build_fusion_model("official", attention_backend="torch", with_cp=with_cp)
    model = model.train().to(cuda)
    generator = torch.Generator(device=cuda).manual_seed(0)
    ir, vis = (torch.rand(2, 1, 256, 320, device=cuda, generator=generator) for _ in range(2))
    torch.cuda.synchronize()
    torch.cuda.reset_peak_memory_stats(cuda)
    torch.manual_seed(1)  # the drop-path masks
    with torch.autocast("cuda", precision, enabled=precision != torch.float32):
        losses = TSJFusionLoss(FusionLossWeights())(model(ir, vis, with_aux=True), ir, vis)
    sum(losses.values()).backward()
    torch.cuda.synchronize()
    grads = {n: p.grad.detach().clone() for n, p in model.named_parameters() if p.grad is not None}
    return grads, torch.cuda.max_memory_allocated(cuda) / 2**20


@pytest.mark.parametrize("precision", [torch.float32, torch.bfloat16])
def test_with_cp_same_gradients_less_memory(cuda, precision):
    plain, plain_mib = step(cuda, False, precision)
    checkpointed, cp_mib = step(cuda, True, precision)
    assert plain.keys() == checkpointed.keys()
    tolerance = 1e-4 if precision == torch.float32 else 2e-2
    largest = max(g.norm() for g in plain.values())
    for name, grad in plain.items():
        assert torch.isfinite(checkpointed[name]).all(), name
        if grad.norm() > 1e-3 * largest:  # leave out gradients that are float noise
            assert relative_error(checkpointed[name], grad) < tolerance, name
    assert cp_mib < 0.7 * plain_mib, (cp_mib, plain_mib)
