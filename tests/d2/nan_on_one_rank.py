"""tools/train_net.py's training with one rank's loss made NaN at one iteration (a test helper).

    python tests/d2/nan_on_one_rank.py --nan-rank 1 --nan-iter 1 --record DIR \
        --config-file CFG --num-gpus 2 [KEY VALUE ...]

Every rank writes ``DIR/rank<r>.json``: per iteration, a digest of all trainable weights, whether
the step changed them, and the skipped-step count.
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

import torch
from detectron2.engine import HookBase, default_argument_parser, launch
from detectron2.utils import comm

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "tools"))
import train_net

from tsjnet_plugin.d2 import TSJTrainer
from tsjnet_plugin.d2.trainer import unwrap


def digest(model: torch.nn.Module) -> str:
    sha = hashlib.sha1()
    for param in model.parameters():
        if param.requires_grad:
            sha.update(param.detach().cpu().contiguous().numpy().tobytes())
    return sha.hexdigest()


class RecordWeights(HookBase):
    def __init__(self, record: Path) -> None:
        self.record, self.rows, self.before = record, [], ""

    def before_step(self) -> None:
        self.before = digest(unwrap(self.trainer.model))

    def after_step(self) -> None:
        after = digest(unwrap(self.trainer.model))
        runner = self.trainer._trainer
        self.rows.append(
            {
                "iter": self.trainer.iter,
                "digest": after,
                "changed": after != self.before,
                "nan_steps": runner.nan_steps,
            }
        )

    def after_train(self) -> None:
        (self.record / f"rank{comm.get_rank()}.json").write_text(json.dumps(self.rows))


def main(args, nan_rank: int, nan_iter: int, record: Path) -> None:
    trainer = TSJTrainer(train_net.setup(args))

    def poison(module, inputs, output):
        if module.training and comm.get_rank() == nan_rank and trainer.iter == nan_iter:
            return {name: value * float("nan") for name, value in output.items()}
        return output

    unwrap(trainer.model).register_forward_hook(poison)
    trainer.register_hooks([RecordWeights(record)])
    trainer.resume_or_load(resume=False)
    trainer.train()


if __name__ == "__main__":
    parser = default_argument_parser()
    parser.add_argument("--nan-rank", type=int, required=True)
    parser.add_argument("--nan-iter", type=int, required=True)
    parser.add_argument("--record", type=Path, required=True)
    args = parser.parse_args()
    args.record.mkdir(parents=True, exist_ok=True)
    launch(
        main,
        args.num_gpus,
        dist_url=args.dist_url,
        args=(args, args.nan_rank, args.nan_iter, args.record),
    )
