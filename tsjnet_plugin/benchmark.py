"""Fusion-network benchmarks: parameters, MACs, inference latency, training-step time, peak
memory, attention-backend speed.

MACs are counted on the ``meta`` device (no compute) with ``torch.utils.flop_counter``; times are
the median of timed runs after a warm-up; peak memory is ``torch.cuda.max_memory_allocated`` on
GPU and the growth of the process's peak resident set on CPU (each CPU measurement runs in a
fresh subprocess, see ``tools/benchmark.py``). ``precision`` is ``"float32"`` (no autocast),
``"bfloat16"`` or ``"float16"`` (autocast; training in float16 adds a ``GradScaler``).
"""

from __future__ import annotations

import resource
import statistics
import time
from collections.abc import Callable

import torch

from .fusion import FusionLossWeights, TSJFusionLoss, build_fusion_model
from .fusion.attention import neighborhood_attention_natten, neighborhood_attention_torch
from .fusion.nat import NATLevel
from .precision import AMP_DTYPES

__all__ = [
    "PRECISIONS",
    "attention_backend_ratio",
    "count_macs",
    "count_parameters",
    "fusion_latency",
    "peak_rss_bytes",
    "run_job",
    "time_call",
    "training_step",
]

PRECISIONS = {"float32": torch.float32, **AMP_DTYPES}


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


def _autocast_dtype(precision: str) -> torch.dtype:
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {sorted(PRECISIONS)}, got {precision!r}")
    return PRECISIONS[precision]


class _PeakMemory:
    """Peak memory of the code run between :meth:`start` and :meth:`mib` (see module docstring)."""

    def __init__(self, device: torch.device) -> None:
        self.device = device

    def start(self) -> None:
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
            torch.cuda.empty_cache()
            torch.cuda.reset_peak_memory_stats(self.device)
        self.rss_before = peak_rss_bytes()

    def mib(self) -> float:
        if self.device.type == "cuda":
            return torch.cuda.max_memory_allocated(self.device) / 2**20
        return max(peak_rss_bytes() - self.rss_before, 0) / 2**20


def fusion_latency(
    arch: str,
    height: int,
    width: int,
    device: torch.device,
    repeats: int = 3,
    precision: str = "float32",
    backend: str = "auto",
    **overrides,
) -> dict[str, float]:
    """Latency (s) and peak memory (MiB) of one inference forward (batch 1) of the fusion network.

    On GPU the peak includes the weights; on CPU it is the growth over the built model. Inputs
    are random ``[1, 1, height, width]`` pairs in [0, 1]; ``backend`` is the network's
    ``attention_backend``.
    """
    dtype = _autocast_dtype(precision)
    model = build_fusion_model(arch, attention_backend=backend, **overrides).eval().to(device)
    ir = torch.rand(1, 1, height, width, device=device)
    vis = torch.rand(1, 1, height, width, device=device)
    memory = _PeakMemory(device)
    memory.start()

    def run() -> None:
        with torch.no_grad(), torch.autocast(device.type, dtype, enabled=dtype != torch.float32):
            model(ir, vis)

    seconds = time_call(run, device, repeats)
    return {"latency_s": seconds, "peak_memory_mib": memory.mib()}


def training_step(
    arch: str,
    height: int,
    width: int,
    device: torch.device,
    batch: int = 2,
    precision: str = "float32",
    backend: str = "auto",
    with_cp: bool = False,
    repeats: int = 3,
    **overrides,
) -> dict[str, float]:
    """Time (s) and peak memory (MiB) of one fusion training step.

    A step is what the trainers do for the fusion network: forward with the auxiliary outputs,
    the official fusion loss (:class:`TSJFusionLoss`), backward and an Adam update, on random
    ``[batch, 1, height, width]`` pairs; float16 scales the loss with a ``GradScaler``. On GPU
    the peak includes the weights and Adam's state (created in the warm-up step); on CPU it is
    the growth over the built model.
    """
    dtype = _autocast_dtype(precision)
    torch.manual_seed(0)
    model = build_fusion_model(arch, attention_backend=backend, with_cp=with_cp, **overrides)
    model = model.train().to(device)
    criterion = TSJFusionLoss(FusionLossWeights())
    optimizer = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=1e-5)
    scaler = torch.amp.GradScaler(device.type, enabled=dtype == torch.float16)
    ir = torch.rand(batch, 1, height, width, device=device)
    vis = torch.rand(batch, 1, height, width, device=device)
    memory = _PeakMemory(device)
    memory.start()

    def step() -> None:
        optimizer.zero_grad(set_to_none=True)
        with torch.autocast(device.type, dtype, enabled=dtype != torch.float32):
            losses = criterion(model(ir, vis, with_aux=True), ir, vis)
        scaler.scale(sum(losses.values())).backward()
        scaler.step(optimizer)
        scaler.update()

    seconds = time_call(step, device, repeats)
    return {"step_s": seconds, "peak_memory_mib": memory.mib()}


def run_job(job: dict, device: torch.device) -> dict[str, float]:
    """One measurement described as data (what ``tools/benchmark.py`` sends to a subprocess).

    ``job``: ``kind`` ("inference" or "train"), ``arch``, ``height``, ``width``, ``repeats``,
    ``precision``, ``backend``; for "train" also ``batch`` and ``with_cp``.
    """
    args = dict(job)
    kind = args.pop("kind")
    if kind == "inference":
        return fusion_latency(device=device, **args)
    if kind == "train":
        return training_step(device=device, **args)
    raise ValueError(f"job kind must be 'inference' or 'train', got {kind!r}")


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
