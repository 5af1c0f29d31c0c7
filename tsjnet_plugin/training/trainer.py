"""Fusion-only training of a TSJNet: crops, the official fusion loss, AdamW with a cosine schedule.

Everything a run writes goes to ``work_dir``:

* ``last.pth``: our fusion checkpoint plus a ``"training"`` entry (optimizer, schedule,
  iteration, RNG states), written atomically at every validation and at the end; the one it
  replaces is kept as ``previous.pth``, which :meth:`FusionTrainer.resume` falls back to when
  ``last.pth`` is missing or unreadable;
* ``best.pth``: our fusion checkpoint of the best validation score so far, with its metrics in
  ``meta``; loadable by ``tools/fuse.py`` and every adapter;
* ``metrics.jsonl``: one JSON object per logged iteration (loss terms) and per validation;
* ``loss_curves.png``, ``validation.png`` (score and metrics against the per-pixel max) and
  ``val_grid.png`` (IR | visible | per-pixel max | fused, of the latest validation).

The batch of iteration ``i`` depends only on ``(seed, i)`` (:class:`CropStream`) and every RNG
state is checkpointed, so a run resumed from ``last.pth`` (even after a SIGKILL) continues exactly
as the uninterrupted run on the same device.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
from tqdm import tqdm

from ..fusion import FusionLossWeights, TSJFusionLoss, TSJNet, build_fusion_model
from ..fusion.checkpoint import atomic_torch_save, checkpoint_payload, read_checkpoint
from ..fusion.checkpoint import load_checkpoint as load_fusion_weights
from ..fusion.losses import default_loss_padding
from ..visualize import plot_loss_curves
from .pairs import CropStream, LoadedPair
from .resume import newest_readable_checkpoint
from .rng import capture_rng_state, restore_rng_state
from .validation import FusionValidator

__all__ = ["FusionTrainConfig", "FusionTrainer", "cosine_with_warmup"]


@dataclass
class FusionTrainConfig:
    """Settings of one fusion training run (all plain values, saved in every checkpoint).

    Attributes:
        arch: a preset of :data:`tsjnet_plugin.fusion.ARCHS`.
        arch_overrides: :class:`TSJNetConfig` fields changed from the preset.
        init: fusion checkpoint (path or shipped name) to start from; None for random init.
        crop: side of the square training patches; default: the model's smallest padded side
            less its ``border`` margins, so that no compute is spent on padding.
        batch_size: patches per iteration.
        iterations: optimizer steps.
        lr: peak learning rate of AdamW.
        weight_decay: AdamW (decoupled) weight decay.
        warmup: iterations of linear warm-up from ``lr / 100``.
        min_lr_ratio: final learning rate over ``lr`` at the end of the cosine.
        grad_clip: maximum gradient norm (None: no clipping).
        val_every: validate (and write ``last.pth``) every this many iterations.
        log_every: log the loss terms every this many iterations.
        seed: seeds the initialisation, the crop stream and dropout.
        amp: mixed precision on CUDA (bfloat16 where supported, else float16 with a GradScaler);
            ignored on CPU.
        loss_weights: the fusion loss weights (official by default).
        loss_padding: "zeros" or "reflect" for the loss's Sobel and SSIM; None: the arch's
            default (:func:`~tsjnet_plugin.fusion.losses.default_loss_padding`).
    """

    arch: str = "fast"
    arch_overrides: dict[str, Any] = field(default_factory=dict)
    init: str | None = None
    crop: int | None = None
    batch_size: int = 8
    iterations: int = 2000
    lr: float = 2e-3
    weight_decay: float = 1e-4
    warmup: int = 50
    min_lr_ratio: float = 0.02
    grad_clip: float | None = 1.0
    val_every: int = 200
    log_every: int = 10
    seed: int = 0
    amp: bool = True
    loss_weights: dict[str, float] = field(default_factory=lambda: asdict(FusionLossWeights()))
    loss_padding: str | None = None


def cosine_with_warmup(iterations: int, warmup: int, min_ratio: float) -> Callable[[int], float]:
    """Learning-rate factor of step ``i``: linear from 0.01 to 1 over ``warmup`` steps, then a
    cosine from 1 to ``min_ratio`` at ``iterations``."""

    def factor(step: int) -> float:
        if step < warmup:
            return 0.01 + 0.99 * step / warmup
        progress = min(1.0, (step - warmup) / max(1, iterations - warmup))
        return min_ratio + (1 - min_ratio) * 0.5 * (1 + math.cos(math.pi * progress))

    return factor


class FusionTrainer:
    """Train a fusion network on crops of ``train_pairs``, validating on ``val_pairs``.

    Args:
        cfg: the run's settings.
        train_pairs: training pairs (each at least ``crop`` pixels per side).
        val_pairs: held-aside validation pairs (whole images).
        work_dir: where checkpoints, logs and pictures go.
        device: default CUDA when available.
        progress: show a tqdm bar.
    """

    def __init__(
        self,
        cfg: FusionTrainConfig,
        train_pairs: Sequence[LoadedPair],
        val_pairs: Sequence[LoadedPair],
        work_dir: str | Path,
        device: str | torch.device | None = None,
        progress: bool = True,
    ) -> None:
        if cfg.batch_size < 2:
            raise ValueError(
                f"batch_size must be at least 2, got {cfg.batch_size}: the split-attention "
                "blocks batch-normalise pooled [B, C, 1, 1] features"
            )
        self.cfg = cfg
        self.work_dir = Path(work_dir)
        self.work_dir.mkdir(parents=True, exist_ok=True)
        self.device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
        self.progress = progress
        torch.manual_seed(cfg.seed)
        self.model: TSJNet = build_fusion_model(cfg.arch, **cfg.arch_overrides)
        if cfg.init:
            load_fusion_weights(self.model, cfg.init)
        self.model.to(self.device)
        self.crop = cfg.crop or self.model.cfg.min_side - 2 * self.model.cfg.border
        self.stream = CropStream(train_pairs, self.crop, cfg.batch_size, cfg.seed)
        self.validator = FusionValidator(val_pairs)
        self.criterion = TSJFusionLoss(
            FusionLossWeights(**cfg.loss_weights),
            cfg.loss_padding or default_loss_padding(cfg.arch),
        )
        params = [p for p in self.model.parameters() if p.requires_grad]
        self.optimizer = torch.optim.AdamW(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
        self.scheduler = torch.optim.lr_scheduler.LambdaLR(
            self.optimizer, cosine_with_warmup(cfg.iterations, cfg.warmup, cfg.min_lr_ratio)
        )
        cuda = self.device.type == "cuda"
        self.amp_dtype = (
            (torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16)
            if cfg.amp and cuda
            else None
        )
        self.scaler = torch.amp.GradScaler("cuda", enabled=self.amp_dtype == torch.float16)
        self.iteration = 0
        self.best_score = -math.inf
        self.elapsed = 0.0

    # ------------------------------------------------------------------ checkpoints
    def _payload(self, meta: dict[str, Any]) -> dict[str, Any]:
        run = {"train_config": asdict(self.cfg), "iteration": self.iteration}
        return checkpoint_payload(self.model, {**run, **meta})

    def save_last(self) -> Path:
        """Write ``last.pth``: weights and the full training state, atomically; the file it
        replaces becomes ``previous.pth``."""
        payload = self._payload({})
        payload["training"] = {
            "iteration": self.iteration,
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict(),
            "scaler": self.scaler.state_dict(),
            "best_score": self.best_score,
            "elapsed_s": self.elapsed,
            "rng": capture_rng_state(),
        }
        last = self.work_dir / "last.pth"
        if last.is_file():
            last.replace(self.work_dir / "previous.pth")
        return atomic_torch_save(payload, last)

    def resume(self, path: str | Path | None = None) -> Path:
        """Restore weights and training state from ``path``, else from ``last.pth`` or, when that
        is missing or unreadable, ``previous.pth`` (logged); returns the file used."""
        if path is None:
            last = self.work_dir / "last.pth"
            path = newest_readable_checkpoint(last, [self.work_dir / "previous.pth"]) or last
        path = Path(path)
        payload = read_checkpoint(path)
        if "training" not in payload:
            raise ValueError(f"{path} holds no training state (was it written by save_last?)")
        self.model.load_state_dict(payload["state_dict"])
        state = payload["training"]
        self.optimizer.load_state_dict(state["optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])
        self.scaler.load_state_dict(state["scaler"])
        self.iteration = int(state["iteration"])
        self.best_score = float(state["best_score"])
        self.elapsed = float(state["elapsed_s"])
        if "rng" in state:
            restore_rng_state(state["rng"])
        else:  # written before every generator was saved
            torch.set_rng_state(state["torch_rng"])
        self._truncate_log(self.iteration)
        return path

    # ------------------------------------------------------------------ logging
    @property
    def log_path(self) -> Path:
        return self.work_dir / "metrics.jsonl"

    def _log(self, record: dict[str, Any]) -> None:
        with self.log_path.open("a") as handle:
            handle.write(json.dumps(record) + "\n")

    def _truncate_log(self, iteration: int) -> None:
        """Drop log lines after ``iteration`` (written by the run that is being resumed)."""
        if not self.log_path.exists():
            return
        keep = [
            line
            for line in self.log_path.read_text().splitlines()
            if line.strip() and json.loads(line).get("iteration", 0) <= iteration
        ]
        self.log_path.write_text("".join(line + "\n" for line in keep))

    # ------------------------------------------------------------------ loop
    def step(self) -> dict[str, float]:
        """One optimizer step on the batch of the current iteration; returns the loss terms."""
        self.model.train()
        ir, vis = (t.to(self.device) for t in self.stream.batch(self.iteration))
        with torch.autocast(
            self.device.type, dtype=self.amp_dtype or torch.float32, enabled=bool(self.amp_dtype)
        ):
            losses = self.criterion(self.model(ir, vis, with_aux=True), ir, vis)
        total = sum(losses.values())
        if not torch.isfinite(total):
            raise FloatingPointError(
                f"non-finite fusion loss at iteration {self.iteration}: "
                + ", ".join(f"{k}={v.item():.4g}" for k, v in losses.items())
            )
        self.optimizer.zero_grad(set_to_none=True)
        self.scaler.scale(total).backward()
        if self.cfg.grad_clip:
            self.scaler.unscale_(self.optimizer)
            torch.nn.utils.clip_grad_norm_(self.model.parameters(), self.cfg.grad_clip)
        self.scaler.step(self.optimizer)
        self.scaler.update()
        self.scheduler.step()
        self.iteration += 1
        values = {k: v.item() for k, v in losses.items()}
        values["total_loss"] = total.item()
        return values

    def validate(self) -> dict[str, Any]:
        """Score the model on the validation pairs; update ``best.pth`` and the pictures."""
        result, grid = self.validator(self.model, self.device)
        grid.save(self.work_dir / "val_grid.png")
        self._log(
            {
                "iteration": self.iteration,
                "validation": result["metrics"],
                "score": result["score"],
                "beats_max": result["beats_max"],
            }
        )
        if result["score"] > self.best_score:
            self.best_score = result["score"]
            meta = {
                "validation": result["metrics"],
                "score": result["score"],
                "baselines": self.validator.baselines,
            }
            atomic_torch_save(self._payload(meta), self.work_dir / "best.pth")
        return result

    def write_pictures(self) -> None:
        """Loss curves and validation history as PNGs."""
        if any('"total_loss"' in line for line in self.log_path.read_text().splitlines()):
            plot_loss_curves(self.log_path, self.work_dir / "loss_curves.png")
        plot_validation(self.log_path, self.validator.baselines, self.work_dir / "validation.png")

    def train(self, stop_at: int | None = None) -> dict[str, Any]:
        """Run from the current iteration to ``cfg.iterations`` (or to ``stop_at``, as if the run
        were interrupted there); returns the last validation."""
        cfg = self.cfg
        end = min(cfg.iterations, stop_at or cfg.iterations)
        result: dict[str, Any] = {}
        bar = tqdm(
            total=cfg.iterations,
            initial=self.iteration,
            desc="train_fusion",
            unit="it",
            disable=not self.progress,
        )
        start = time.perf_counter() - self.elapsed
        while self.iteration < end:
            values = self.step()
            bar.update(1)
            if self.iteration % cfg.log_every == 0 or self.iteration == cfg.iterations:
                lr = self.optimizer.param_groups[0]["lr"]
                elapsed = round(time.perf_counter() - start, 1)
                self._log({"iteration": self.iteration, "lr": lr, "elapsed_s": elapsed, **values})
                bar.set_postfix(
                    {k.removeprefix("loss_fusion_"): f"{v:.3f}" for k, v in values.items()}
                )
            if self.iteration % cfg.val_every == 0 or self.iteration == cfg.iterations:
                self.elapsed = time.perf_counter() - start
                result = self.validate()
                self.save_last()
                self.write_pictures()
                bar.write(
                    f"[iter {self.iteration}] score {result['score']:.4f} (best "
                    f"{self.best_score:.4f}); above the per-pixel max on "
                    f"{len(result['beats_max'])}/8: {', '.join(result['beats_max'])}"
                )
        bar.close()
        return result


def plot_validation(log_path: Path, baselines: dict[str, dict[str, float]], out_png: Path) -> Path:
    """Each validation metric over iterations, with the per-pixel max and mean as lines."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    rows = [json.loads(line) for line in log_path.read_text().splitlines() if line.strip()]
    rows = [r for r in rows if "validation" in r]
    names = list(rows[0]["validation"]) if rows else []
    columns = 5
    figure = Figure(figsize=(3.2 * columns, 2.6 * math.ceil((len(names) + 1) / columns)))
    FigureCanvasAgg(figure)
    steps = [r["iteration"] for r in rows]
    panels = [("selection score (max = 1)", [r["score"] for r in rows], None)] + [
        (name, [r["validation"][name] for r in rows], name) for name in names
    ]
    for index, (title, values, metric) in enumerate(panels, start=1):
        axes = figure.add_subplot(math.ceil(len(panels) / columns), columns, index)
        axes.plot(steps, values, marker="o", label="model")
        if metric is not None:
            for method, style in (("max", "--"), ("mean", ":")):
                axes.axhline(
                    baselines[method][metric],
                    linestyle=style,
                    color="gray",
                    label=f"per-pixel {method}",
                )
        axes.set_title(title, fontsize=9)
        axes.tick_params(labelsize=7)
        if index == 2:
            axes.legend(fontsize=6)
    figure.tight_layout()
    figure.savefig(out_png, dpi=100)
    return out_png
