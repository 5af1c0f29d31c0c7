"""Fusion-network benchmarks: parameters, MACs, latency, peak memory, attention-backend speed.

MACs are counted on the ``meta`` device (no compute) with ``torch.utils.flop_counter``; latency is
the median of timed runs after a warm-up; peak memory is ``torch.cuda.max_memory_allocated`` on
GPU and the growth of the process's peak resident set on CPU (each CPU size runs in a fresh
subprocess, see ``tools/benchmark.py``).
"""

from __future__ import annotations

import resource
import statistics
import time
from collections.abc import Callable

import torch

from .fusion import build_fusion_model
from .fusion.attention import neighborhood_attention_natten, neighborhood_attention_torch
from .fusion.nat import NATLevel

__all__ = [
    "attention_backend_ratio",
    "count_macs",
    "count_parameters",
    "fusion_latency",
    "peak_rss_bytes",
    "time_call",
]


def count_parameters(model: torch.nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def count_macs(arch: str, height: int, width: int, **overrides) -> int:
    """Multiply-accumulates of one fused pair (inference) counted on the meta device."""
    from torch.utils.flop_counter import FlopCounterMode

    with torch.device("meta"):
        model = build_fusion_model(arch, attention_backend="torch", **overrides).eval()
        ir, vis = torch.empty(1, 1, height, width), torch.empty(1, 1, height, width)
    counter = FlopCounterMode(display=False)
    with counter, torch.no_grad():
        model(ir, vis)
    return counter.get_total_flops() // 2


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def time_call(
    fn: Callable[[], object], device: torch.device, repeats: int, warmup: int = 1
) -> float:
    """Median seconds of ``fn()`` over ``repeats`` runs after ``warmup`` runs."""
    for _ in range(warmup):
        fn()
    _sync(device)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        _sync(device)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def peak_rss_bytes() -> int:
    """Peak resident set size of this process so far (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def fusion_latency(
    arch: str,
    height: int,
    width: int,
    device: torch.device,
    repeats: int = 3,
    amp: bool = False,
    **overrides,
) -> dict[str, float]:
    """Latency and peak memory of one inference forward (batch 1) of the fusion network.

    ``amp`` runs under CUDA autocast (float16); it has no effect on CPU.
    """
    model = build_fusion_model(arch, **overrides).eval().to(device)
    ir = torch.rand(1, 1, height, width, device=device)
    vis = torch.rand(1, 1, height, width, device=device)
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    rss_before = peak_rss_bytes()

    def run() -> None:
        with torch.no_grad(), torch.autocast("cuda", enabled=amp and device.type == "cuda"):
            model(ir, vis)

    seconds = time_call(run, device, repeats)
    if device.type == "cuda":
        peak = torch.cuda.max_memory_allocated(device)
    else:
        peak = max(peak_rss_bytes() - rss_before, 0)
    return {"latency_s": seconds, "peak_memory_mib": peak / 2**20}


def attention_backend_ratio(
    height: int = 120, width: int = 160, dim: int = 64, heads: int = 2, repeats: int = 3
) -> dict[str, float]:
    """Forward time of the torch fallback vs NATTEN's CPU path on one NAT-level map (no RPB),
    and forward+backward of a whole official NAT level 0 with the torch path.
    """
    q, k, v = (torch.randn(1, heads, height, width, dim // heads) for _ in range(3))
    cpu = torch.device("cpu")
    torch_s = time_call(lambda: neighborhood_attention_torch(q, k, v, 7), cpu, repeats)
    natten_s = time_call(
        lambda: neighborhood_attention_natten(q, k, v, 7), cpu, max(1, repeats // 3)
    )
    level = NATLevel(dim, 3, heads, 7, 3.0, [0.0] * 3, downsample=True, rpb=True, backend="torch")
    x = torch.randn(1, height, width, dim)

    def forward_backward() -> None:
        level(x).sum().backward()

    level_s = time_call(forward_backward, cpu, repeats)
    return {
        "na_torch_forward_s": torch_s,
        "na_natten_cpu_forward_s": natten_s,
        "natten_over_torch_ratio": natten_s / torch_s,
        "nat_level0_forward_backward_s": level_s,
    }
