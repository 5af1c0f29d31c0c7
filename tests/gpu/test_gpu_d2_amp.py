"""On CUDA: one AMP step (float16 with a GradScaler, bfloat16 without) of the detectron2 joint
trainer moves the fusion trunk and keeps every parameter finite."""

import functools
from pathlib import Path

import pytest
import torch

pytestmark = pytest.mark.cuda

detectron2 = pytest.importorskip("detectron2")

from detectron2.config import get_cfg  # noqa: E402
from detectron2.data import build_detection_train_loader  # noqa: E402
from detectron2.modeling import build_model  # noqa: E402
from detectron2.utils.events import EventStorage  # noqa: E402

from tsjnet_plugin.d2 import (  # noqa: E402
    PairDatasetMapper,
    TSJTrainer,
    add_tsjnet_config,
    register_pair_dataset,
)
from tsjnet_plugin.d2.trainer import ScheduledStepRunner, build_schedule  # noqa: E402
from tsjnet_plugin.data import read_msrs, write_synthetic_msrs  # noqa: E402
from tsjnet_plugin.data.synthetic import SYNTHETIC_STUFF_CLASSES  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
TRAIN = "tsj_gpu_synthetic_train"


@pytest.fixture(scope="module")
def synthetic_root(tmp_path_factory) -> Path:
    root = write_synthetic_msrs(tmp_path_factory.mktemp("synthetic"), 4, 1, 128, 160, seed=3)
    register_pair_dataset(TRAIN, functools.partial(read_msrs, root, "train", name=TRAIN))
    return root


def make_cfg(tmp_path: Path, dtype: str):
    """The CPU demo's joint model (Faster R-CNN R18-FPN) with a randomly initialised tiny fusion
    net on CUDA, detectron2's semantic FPN as the segmentor, AMP in ``dtype`` and activation
    checkpointing."""
    cfg = get_cfg()
    add_tsjnet_config(cfg)
    cfg.merge_from_file(str(ROOT / "configs" / "tsj_faster_rcnn_demo_cpu.yaml"))
    cfg.merge_from_list([
        "MODEL.DEVICE", "cuda", "OUTPUT_DIR", str(tmp_path),
        "MODEL.TSJNET.ARCH", "tiny", "MODEL.TSJNET.WEIGHTS", "", "MODEL.TSJNET.WITH_CP", "True",
        "MODEL.TSJNET.SEGMENTOR.TYPE", "d2",
        "MODEL.SEM_SEG_HEAD.NUM_CLASSES", str(len(SYNTHETIC_STUFF_CLASSES)),
        "DATASETS.TRAIN", f"('{TRAIN}',)", "DATASETS.TEST", "()",
        "DATALOADER.NUM_WORKERS", "0", "SOLVER.IMS_PER_BATCH", "2",
        "SOLVER.AMP.ENABLED", "True", "SOLVER.AMP.DTYPE", dtype,
    ])  # fmt: skip
    return cfg


@pytest.mark.parametrize("dtype", ["bfloat16", "float16"])
def test_one_amp_step_moves_the_fusion_trunk_and_stays_finite(synthetic_root, tmp_path, dtype):
    cfg = make_cfg(tmp_path, dtype)
    model = build_model(cfg).train()
    batch = next(iter(build_detection_train_loader(cfg, mapper=PairDatasetMapper(cfg, True))))
    optimizer = TSJTrainer.build_optimizer(cfg, model)
    runner = ScheduledStepRunner(
        model, [batch] * 8, optimizer, build_schedule(cfg, model), True, 5, dtype
    )
    assert runner.amp and runner.grad_scaler.is_enabled() == (dtype == "float16")
    before = {n: p.detach().clone() for n, p in model.fusion.named_parameters() if p.requires_grad}
    # float16 may skip its first steps while the GradScaler lowers its scale; bfloat16 may not.
    attempts = 1 if dtype == "bfloat16" else 4
    with EventStorage(0) as storage:
        for iteration in range(attempts):
            runner.iter = storage.iter = iteration
            runner.run_step()
            moved = [n for n, p in model.fusion.named_parameters() if n in before
                     and not torch.equal(p, before[n])]  # fmt: skip
            if moved:
                break
    assert len(moved) > 0.9 * len(before), f"{len(moved)} of {len(before)} fusion tensors moved"
    assert all(torch.isfinite(p).all() for p in model.parameters())
