"""TSJJointModel: the schedule decides which task net steps; the fusion trunk steps every time;
`sum` is one backward of the summed losses; two gloo processes under MMDistributedDataParallel."""

from __future__ import annotations

import copy
import socket
from pathlib import Path

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from mmengine.model import MMDistributedDataParallel
from mmengine.optim import OptimWrapper
from mmengine.registry import MODELS, init_default_scope
from synthetic_batches import synthetic_batch

import tsjnet_plugin.mm  # noqa: F401  (registers the plugin)

CONFIGS = Path(__file__).resolve().parents[2] / "configs" / "mm"
HEIGHT, WIDTH = 64, 80
LR = 1.0
PIPELINE = [
    dict(type="LoadIRVisPair"),
    dict(type="LoadAnnotations", with_bbox=True),
    dict(type="LoadPairSegLabel"),
    dict(type="PackDetInputs"),
]


def joint_model_cfg(mode: str) -> dict:
    """The joint config's model, without randomness in the forward (no drop path, no dropout)."""
    return dict(
        type="TSJJointModel",
        fusion=dict(arch="tiny", drop_path_rate=0.0),
        detector=dict(config=str(CONFIGS / "det_faster-rcnn_r18_fpn_tsj.py")),
        segmentor=dict(
            config=str(CONFIGS / "seg_deeplabv3plus_r18_pad32.py"),
            decode_head=dict(dropout_ratio=0.0),
            auxiliary_head=dict(dropout_ratio=0.0),
        ),
        schedule=dict(mode=mode),
    )


def build_model(mode: str) -> torch.nn.Module:
    init_default_scope("mmdet")
    torch.manual_seed(0)
    return MODELS.build(joint_model_cfg(mode))


def load_batch(root: Path, start: int, size: int = 2) -> dict:
    reader_args = dict(num_train=4, num_test=0, height=HEIGHT, width=WIDTH)
    return synthetic_batch(
        root, "mmdet", "joint", PIPELINE, reader_args, range(start, start + size)
    )


def sgd(model: torch.nn.Module, lr: float = 1e-3) -> OptimWrapper:
    return OptimWrapper(torch.optim.SGD(model.parameters(), lr=lr))


def snapshot(module: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {n: p.detach().clone() for n, p in module.named_parameters() if p.requires_grad}


def moved(module: torch.nn.Module, before: dict[str, torch.Tensor]) -> set[str]:
    return {
        n for n, p in module.named_parameters() if n in before and not torch.equal(p, before[n])
    }


def record_gradients(module: torch.nn.Module) -> set[str]:
    """A set that collects the names of `module`'s parameters as they receive a gradient."""
    received: set[str] = set()
    for name, param in module.named_parameters():
        if param.requires_grad:
            param.register_post_accumulate_grad_hook(lambda p, n=name: received.add(n))
    return received


@pytest.fixture(scope="module")
def data_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("mm_joint") / "synthetic"
    load_batch(root, 0)  # writes the data set once
    return root


def test_mm_joint_alternate_steps_fusion_always_and_each_task_on_its_turn(data_root):
    model = build_model("alternate")
    optim_wrapper = sgd(model)
    batch = load_batch(data_root, 0)
    parts = {"fusion": model.fusion, "det": model.detector, "seg": model.segmentor}
    fusion_grads = record_gradients(model.fusion)
    for iteration, task in enumerate(["det", "seg", "det"]):
        before = {name: snapshot(part) for name, part in parts.items()}
        fusion_grads.clear()
        model.set_iteration(iteration)
        log = model.train_step(batch, optim_wrapper)
        assert any(k.startswith("loss_fusion_") for k in log)
        assert any(k.startswith(f"loss_{task}_") for k in log)
        other = "seg" if task == "det" else "det"
        assert not any(k.startswith((f"loss_{other}_", f"{other}_")) for k in log)
        assert fusion_grads == set(before["fusion"]), "fusion params without gradient"
        assert len(moved(parts["fusion"], before["fusion"])) > 0.9 * len(before["fusion"])
        assert moved(parts[task], before[task]), f"{task} net did not step on its turn"
        assert not moved(parts[other], before[other]), f"{other} net stepped off its turn"


def test_mm_joint_sum_is_one_backward_of_the_summed_losses(data_root):
    model = build_model("sum")
    data = model.data_preprocessor(load_batch(data_root, 0), True)

    def gradients(tasks: tuple[str, ...], fusion_loss: bool = True) -> dict[str, torch.Tensor]:
        model.zero_grad(set_to_none=False)
        model.fusion.loss_weight = 1.0 if fusion_loss else 0.0
        torch.manual_seed(1)  # the detector's box samplers draw at random
        losses = model.compute_losses(data["inputs"], copy.deepcopy(data["data_samples"]), tasks)
        model.parse_losses(losses)[0].backward()
        model.fusion.loss_weight = 1.0
        return {n: p.grad.clone() for n, p in model.named_parameters() if p.requires_grad}

    both = gradients(("det", "seg"))
    parts = [gradients(("det",), False), gradients(("seg",), False), gradients(())]
    expected = {name: sum(part[name] for part in parts) for name in both}
    for prefix in ("fusion.", "detector.", "segmentor."):
        assert_close_flat(both, expected, prefix)

    model.zero_grad(set_to_none=True)
    before = snapshot(model)
    model.set_iteration(5)
    torch.manual_seed(1)
    log = model.train_step(load_batch(data_root, 0), sgd(model, LR))
    assert {k.split("_")[1] for k in log if k.startswith("loss_")} == {"fusion", "det", "seg"}
    assert "loss" in log and "det_acc" in log and "loss_det_acc" not in log
    step = {n: p.detach() - before[n] for n, p in model.named_parameters() if n in before}
    for prefix in ("fusion.", "detector.", "segmentor."):
        assert_close_flat(step, {n: -LR * g for n, g in both.items()}, prefix)


def assert_close_flat(
    actual: dict[str, torch.Tensor], expected: dict[str, torch.Tensor], prefix: str
) -> None:
    """The parameters under `prefix`, as one vector, agree to 1e-3 relative (float32 sums in
    another order and thread count, measured up to 1.4e-4; a missing or doubled loss term gives
    an O(1) difference; a per-tensor check would trip on the noise of gradients that are zero in
    exact arithmetic, e.g. a conv bias before batch norm)."""
    names = sorted(n for n in expected if n.startswith(prefix))
    a = torch.cat([actual[n].flatten() for n in names])
    b = torch.cat([expected[n].flatten() for n in names])
    error = float(torch.linalg.vector_norm(a - b) / torch.linalg.vector_norm(b))
    assert error < 1e-3, f"{prefix}: relative difference {error:.2e}"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _ddp_worker(rank: int, port: int, data_root: Path, out: Path) -> None:
    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=2)
    try:
        model = build_model("alternate")
        ddp = MMDistributedDataParallel(module=model, find_unused_parameters=True)
        optim_wrapper = sgd(ddp)
        batch = load_batch(data_root, 2 * rank)  # each rank its own samples
        start = snapshot(model)
        seg_before_det_step = snapshot(model.segmentor)
        model.set_iteration(0)  # det
        ddp.train_step(batch, optim_wrapper)
        seg_unchanged = not moved(model.segmentor, seg_before_det_step)
        model.set_iteration(1)  # seg
        ddp.train_step(batch, optim_wrapper)
        flat = torch.cat([p.detach().flatten() for p in model.parameters()])
        gathered = [torch.empty_like(flat) for _ in range(2)]
        dist.all_gather(gathered, flat)
        torch.save(
            dict(
                same_on_ranks=torch.equal(gathered[0], gathered[1]),
                fusion_moved=len(
                    moved(
                        model.fusion,
                        {n[7:]: p for n, p in start.items() if n.startswith("fusion.")},
                    )
                ),
                fusion_size=sum(n.startswith("fusion.") for n in start),
                seg_unchanged_on_det_step=seg_unchanged,
            ),
            out / f"rank{rank}.pt",
        )
    finally:
        dist.destroy_process_group()


def test_mm_joint_two_gloo_processes_under_mmddp(data_root, tmp_path):
    mp.spawn(_ddp_worker, args=(_free_port(), data_root, tmp_path), nprocs=2, join=True)
    for rank in range(2):
        result = torch.load(tmp_path / f"rank{rank}.pt")
        assert result["same_on_ranks"], "ranks diverged: gradients were not reduced"
        assert result["fusion_moved"] > 0.9 * result["fusion_size"], "fusion trunk not updated"
        assert result["seg_unchanged_on_det_step"], "segmentor stepped on a det iteration"
