"""Train an OpenMMLab (mmseg / mmdet / joint) config with TSJNet, the mm way.

python tools/train_mm.py configs/mm/joint_faster-rcnn_deeplabv3plus_r18_tsj-fast_alternate_synthetic-96x128.py
python tools/train_mm.py CONFIG --work-dir work_dirs/x --cfg-options train_cfg.max_iters=10
python -m torch.distributed.run --nproc_per_node 2 tools/train_mm.py CONFIG --launcher pytorch
"""

from __future__ import annotations

import argparse

from mmengine.config import Config

from tsjnet_plugin.mm import cli
from tsjnet_plugin.mm.resume import resume_checkpoint
from tsjnet_plugin.tool_errors import user_errors

# bfloat16 has float32's exponent range and needs no loss scaling (mmengine's AmpOptimWrapper
# always holds a GradScaler; a fixed scale of 1 makes it a no-op that still skips non-finite
# steps); float16 needs a dynamic scale.
AMP_LOSS_SCALES = {"bfloat16": 1.0, "float16": "dynamic"}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = cli.mm_parser(
        "Train an mm config with TSJNet", "train_cfg.max_iters=10 model.schedule.mode=sum"
    )
    parser.add_argument(
        "--resume",
        nargs="?",
        type=str,
        const="auto",
        help="resume from this checkpoint, or from the latest readable one in the work dir if no "
        "path",
    )
    parser.add_argument(
        "--amp",
        nargs="?",
        const="bfloat16",
        choices=sorted(AMP_LOSS_SCALES),
        help="AmpOptimWrapper (needs a GPU) in bfloat16 (default; fixed unit loss scale) or "
        "float16 (dynamic loss scale)",
    )
    return cli.parse_args(parser, argv)


def build_config(args: argparse.Namespace) -> Config:
    """The config with the command-line choices applied."""
    cfg = cli.load_config(args)
    if args.amp:
        cfg.optim_wrapper.type = "AmpOptimWrapper"
        cfg.optim_wrapper.dtype = args.amp
        cfg.optim_wrapper.loss_scale = AMP_LOSS_SCALES[args.amp]
    hooks = cfg.setdefault("custom_hooks", [])
    if not any(hook.get("type") == "TSJExactResumeHook" for hook in hooks):
        hooks.append(dict(type="TSJExactResumeHook"))
    if args.resume == "auto":
        cfg.resume = True
        cfg.load_from = resume_checkpoint(cfg.work_dir)
    elif args.resume is not None:
        cfg.resume = True
        cfg.load_from = args.resume
    return cfg


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    cli.build_runner(build_config(args), args.trust_checkpoint).train()


if __name__ == "__main__":
    with user_errors("train_mm"):
        main()
