"""Train an OpenMMLab (mmseg / mmdet / joint) config with TSJNet, the mm way.

python tools/train_mm.py configs/mm/joint_faster-rcnn_deeplabv3plus_r18_tsj-tiny_alternate_synthetic-96x128.py
python tools/train_mm.py CONFIG --work-dir work_dirs/x --cfg-options train_cfg.max_iters=10
python -m torch.distributed.run --nproc_per_node 2 tools/train_mm.py CONFIG --launcher pytorch
"""

from __future__ import annotations

import argparse
import os
import os.path as osp

from mmengine.config import Config, DictAction
from mmengine.registry import RUNNERS
from mmengine.runner import Runner


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Train an mm config with TSJNet")
    parser.add_argument("config", help="train config file path")
    parser.add_argument("--work-dir", help="where logs and checkpoints go")
    parser.add_argument(
        "--resume",
        nargs="?",
        type=str,
        const="auto",
        help="resume from this checkpoint, or from the latest one in the work dir if no path",
    )
    parser.add_argument("--amp", action="store_true", help="AmpOptimWrapper (needs a GPU)")
    parser.add_argument(
        "--cfg-options",
        nargs="+",
        action=DictAction,
        help="override config keys, e.g. train_cfg.max_iters=10 model.schedule.mode=sum",
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
    if args.amp:
        cfg.optim_wrapper.type = "AmpOptimWrapper"
        cfg.optim_wrapper.setdefault("loss_scale", "dynamic")
    if args.resume == "auto":
        cfg.resume = True
        cfg.load_from = None
    elif args.resume is not None:
        cfg.resume = True
        cfg.load_from = args.resume
    if cfg.get("resume") or cfg.get("load_from"):
        # mmengine 0.10.7 calls torch.load without weights_only, and its checkpoints hold numpy
        # and mmengine objects that torch >= 2.6's weights_only default refuses; the file is
        # the one the config or the command line names.
        os.environ.setdefault("TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD", "1")
    return cfg


def main(argv: list[str] | None = None) -> None:
    cfg = build_config(parse_args(argv))
    runner = Runner.from_cfg(cfg) if "runner_type" not in cfg else RUNNERS.build(cfg)
    runner.train()


if __name__ == "__main__":
    main()
