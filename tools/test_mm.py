"""Evaluate a checkpoint of an OpenMMLab (mmseg / mmdet / joint) config with TSJNet, the mm way.

python tools/test_mm.py CONFIG CHECKPOINT [--work-dir DIR] [--cfg-options k=v ...]
python -m torch.distributed.run --nproc_per_node 2 tools/test_mm.py CONFIG CKPT --launcher pytorch
"""

from __future__ import annotations

import argparse

from mmengine.config import Config

from tsjnet_plugin.mm import cli
from tsjnet_plugin.tool_errors import user_errors


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = cli.mm_parser(
        "Test an mm config with TSJNet", "test_dataloader.dataset.data_root=data/MSRS"
    )
    parser.add_argument(
        "checkpoint", help="checkpoint file (read as data only, see --trust-checkpoint)"
    )
    return cli.parse_args(parser, argv)


def build_config(args: argparse.Namespace) -> Config:
    """The config with the command-line choices applied."""
    cfg = cli.load_config(args)
    cfg.load_from = args.checkpoint
    return cfg


def main(argv: list[str] | None = None) -> dict:
    args = parse_args(argv)
    return cli.build_runner(build_config(args), args.trust_checkpoint).test()


if __name__ == "__main__":
    with user_errors("test_mm"):
        main()
