"""Evaluate a checkpoint of an OpenMMLab (mmseg / mmdet / joint) config with TSJNet, the mm way.

python tools/test_mm.py CONFIG CHECKPOINT [--work-dir DIR] [--cfg-options k=v ...]
python -m torch.distributed.run --nproc_per_node 2 tools/test_mm.py CONFIG CKPT --launcher pytorch
"""

from __future__ import annotations

import argparse
import os
import os.path as osp

from mmengine.config import Config, DictAction
from mmengine.registry import RUNNERS
from mmengine.runner import Runner


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Test an mm config with TSJNet")
    parser.add_argument("config", help="test config file path")
    parser.add_argument("checkpoint", help="checkpoint file (trusted: it is unpickled)")
    parser.add_argument("--work-dir", help="where the evaluation logs go")
    parser.add_argument(
        "--cfg-options",
        nargs="+",
        action=DictAction,
        help="override config keys, e.g. test_dataloader.dataset.data_root=data/MSRS",
    )
    parser.add_argument(
        "--launcher",
        choices=["none", "pytorch", "slurm", "mpi"],
        default="none",
        help="job launcher",
    )
    parser.add_argument("--local_rank", "--local-rank", type=int, default=0)
    args = parser.parse_args(argv)
    os.environ.setdefault("LOCAL_RANK", str(args.local_rank))
    return args


def build_config(args: argparse.Namespace) -> Config:
    """The config with the command-line choices applied."""
    cfg = Config.fromfile(args.config)
    cfg.launcher = args.launcher
    if args.cfg_options is not None:
        cfg.merge_from_dict(args.cfg_options)
    if args.work_dir is not None:
        cfg.work_dir = args.work_dir
    elif cfg.get("work_dir") is None:
        cfg.work_dir = osp.join("./work_dirs", osp.splitext(osp.basename(args.config))[0])
    cfg.load_from = args.checkpoint
    return cfg


def main(argv: list[str] | None = None) -> dict:
    args = parse_args(argv)
    # mmengine 0.10.7 calls torch.load without weights_only, and its checkpoints hold numpy and
    # mmengine objects that torch >= 2.6's weights_only default refuses; the file is the one
    # named on the command line.
    os.environ.setdefault("TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD", "1")
    cfg = build_config(args)
    runner = Runner.from_cfg(cfg) if "runner_type" not in cfg else RUNNERS.build(cfg)
    return runner.test()


if __name__ == "__main__":
    main()
