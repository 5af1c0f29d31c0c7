"""Train and evaluate TSJNet jointly with a detector and a segmentor (detectron2).

    python tools/train_net.py --config-file configs/tsj_faster_rcnn.yaml
    python tools/train_net.py --config-file configs/tsj_faster_rcnn.yaml --num-gpus 8
    python tools/train_net.py --config-file CFG --eval-only MODEL.WEIGHTS output/model_final.pth
    python tools/train_net.py --config-file CFG --resume SOLVER.MAX_ITER 2000

Arguments follow detectron2's ``default_argument_parser``; trailing ``KEY VALUE`` pairs override
the config. Logs, ``metrics.json`` and TensorBoard events go to ``OUTPUT_DIR``.
"""

from __future__ import annotations

import logging
from pathlib import Path

import torch
from detectron2.engine import default_argument_parser, default_setup, launch
from detectron2.evaluation import verify_results
from detectron2.utils import comm

from tsjnet_plugin.d2 import TSJTrainer, register_builtin
from tsjnet_plugin.d2.config import load_config
from tsjnet_plugin.d2.data import check_builtin_folders, prepare_synthetic
from tsjnet_plugin.fusion.checkpoint import remove_partial_saves
from tsjnet_plugin.tool_errors import UsageError, user_errors


def setup(args):
    cfg = load_config(args.config_file, args.opts)
    if cfg.MODEL.DEVICE.startswith("cuda") and not torch.cuda.is_available():
        logging.getLogger(__name__).warning("CUDA is not available: running on the CPU")
        cfg.MODEL.DEVICE = "cpu"
    cfg.freeze()
    default_setup(cfg, args)
    register_builtin()
    return cfg


def main(args):
    cfg = setup(args)
    if args.eval_only:
        model = TSJTrainer.build_model(cfg)
        TSJTrainer.build_checkpointer(model, cfg).resume_or_load(
            cfg.MODEL.WEIGHTS, resume=args.resume
        )
        results = TSJTrainer.test(cfg, model)
        if comm.is_main_process():
            verify_results(cfg, results)
        return results
    trainer = TSJTrainer(cfg)
    trainer.resume_or_load(resume=args.resume)
    return trainer.train()


if __name__ == "__main__":
    args = default_argument_parser().parse_args()
    with user_errors("train_net"):
        # The config first (a typo fails here, before anything is written); then the synthetic
        # set, only if the config uses it, once, before any worker process starts.
        cfg = load_config(args.config_file, args.opts)
        weights = cfg.MODEL.WEIGHTS
        if weights and "://" not in weights and not Path(weights).is_file():
            raise UsageError(f"MODEL.WEIGHTS {weights} does not exist; give a file, a URL or ''")
        check_builtin_folders([*cfg.DATASETS.TRAIN, *cfg.DATASETS.TEST])
        prepare_synthetic([*cfg.DATASETS.TRAIN, *cfg.DATASETS.TEST])
        for path in remove_partial_saves(cfg.OUTPUT_DIR):
            print(f"removed {path}, left by a save that was interrupted")
        launch(
            main,
            args.num_gpus,
            num_machines=args.num_machines,
            machine_rank=args.machine_rank,
            dist_url=args.dist_url,
            args=(args,),
        )
