"""What `tools/train_mm.py` and `tools/test_mm.py` share: the common command-line options, the
config with them applied, and the runner it describes."""

from __future__ import annotations

import argparse
import os
import os.path as osp
from collections.abc import Sequence

from mmengine.config import Config, DictAction
from mmengine.registry import RUNNERS
from mmengine.runner import Runner

from tsjnet_plugin.tool_errors import UsageError

from .checkpoint import install_safe_loader

__all__ = ["build_runner", "load_config", "mm_parser", "parse_args"]


def mm_parser(description: str, cfg_options_example: str) -> argparse.ArgumentParser:
    """A parser with the options both tools take: CONFIG, --work-dir, --cfg-options, --launcher,
    --local_rank, --trust-checkpoint. Each tool adds its own (train: --resume, --amp; test:
    CHECKPOINT)."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("config", help="config file path")
    parser.add_argument("--work-dir", help="where logs (and checkpoints, when training) go")
    parser.add_argument(
        "--cfg-options",
        nargs="+",
        action=DictAction,
        help=f"override config keys, e.g. {cfg_options_example}",
    )
    parser.add_argument(
        "--launcher",
        choices=["none", "pytorch", "slurm", "mpi"],
        default="none",
        help="job launcher",
    )
    parser.add_argument("--local_rank", "--local-rank", type=int, default=0)
    parser.add_argument(
        "--trust-checkpoint",
        action="store_true",
        help="unpickle checkpoints fully (can run code they name); by default only data loads",
    )
    return parser


def parse_args(parser: argparse.ArgumentParser, argv: Sequence[str] | None) -> argparse.Namespace:
    """`parser.parse_args(argv)`, with LOCAL_RANK set from --local_rank unless already set."""
    args = parser.parse_args(argv)
    os.environ.setdefault("LOCAL_RANK", str(args.local_rank))
    return args


def load_config(args: argparse.Namespace) -> Config:
    """The config file with --launcher, --cfg-options and --work-dir applied (default work dir:
    ./work_dirs/<config name>)."""
    cfg = Config.fromfile(args.config)
    cfg.launcher = args.launcher
    if args.cfg_options is not None:
        cfg.merge_from_dict(args.cfg_options)
    if args.work_dir is not None:
        cfg.work_dir = args.work_dir
    elif cfg.get("work_dir") is None:
        cfg.work_dir = osp.join("./work_dirs", osp.splitext(osp.basename(args.config))[0])
    return cfg


def build_runner(cfg: Config, trust_checkpoint: bool = False) -> Runner:
    """The config's runner: `Runner.from_cfg`, or the registered `runner_type`. Local
    checkpoints (`load_from`, `--resume`, pretrained weights) are read with
    `checkpoint.load_local_checkpoint`: data only, unless `trust_checkpoint`.

    Raises:
        UsageError: `load_from` (a checkpoint to load or resume) names a local file that does
            not exist; checked before anything is built.
    """
    load_from = cfg.get("load_from")
    if load_from and "://" not in str(load_from) and not osp.isfile(osp.expanduser(load_from)):
        raise UsageError(f"checkpoint {load_from} (load_from / --resume) does not exist")
    install_safe_loader(trusted=trust_checkpoint)
    return Runner.from_cfg(cfg) if "runner_type" not in cfg else RUNNERS.build(cfg)
