"""detectron2 training of the TSJNet models: the task schedule, AMP, NaN guard, atomic checkpoints.

:class:`TSJTrainer` is a :class:`detectron2.engine.DefaultTrainer`. For the joint model its step
runner (:class:`ScheduledStepRunner`) asks the shared :class:`~tsjnet_plugin.schedule.TaskSchedule`
which task losses flow into the fusion trunk at each iteration; a stock meta-architecture with
``build_tsjnet_backbone`` trains with detectron2's own step runner, the fusion losses added to its
loss dict by :func:`~tsjnet_plugin.d2.backbone.add_fusion_losses`.
"""

from __future__ import annotations

import logging
import os
import pickle
import time
import weakref
from typing import Any

import torch
from detectron2.config import CfgNode
from detectron2.data import (
    MetadataCatalog,
    build_detection_test_loader,
    build_detection_train_loader,
    get_detection_dataset_dicts,
)
from detectron2.engine import AMPTrainer, DefaultTrainer, SimpleTrainer, hooks
from detectron2.engine.defaults import create_ddp_model
from detectron2.evaluation import (
    COCOEvaluator,
    DatasetEvaluator,
    DatasetEvaluators,
    SemSegEvaluator,
)
from detectron2.solver.build import get_default_optimizer_params, maybe_add_gradient_clipping
from detectron2.utils import comm
from detectron2.utils.events import (
    CommonMetricPrinter,
    JSONWriter,
    TensorboardXWriter,
    get_event_storage,
)
from torch import nn

from tsjnet_plugin.fusion.checkpoint import (
    CheckpointError,
    atomic_torch_save,
    load_failure_reason,
)
from tsjnet_plugin.precision import amp_dtype as amp_dtype_of
from tsjnet_plugin.schedule import TaskSchedule
from tsjnet_plugin.schedule import build_schedule as build_task_schedule
from tsjnet_plugin.training.resume import newest_readable_checkpoint
from tsjnet_plugin.training.rng import capture_rng_state, restore_rng_state

from .backbone import add_fusion_losses, fusion_backbones
from .data import PairDatasetMapper
from .evaluation import FusionQualityEvaluator
from .meta_arch import TSJNetJointModel, check_class_counts
from .sampler import ResumableTrainingSampler
from .weights import TSJCheckpointer

__all__ = [
    "OPTIMIZERS",
    "AtomicCheckpointer",
    "GatherRankRngStates",
    "ScheduledStepRunner",
    "TSJTrainer",
    "build_schedule",
    "unwrap",
]

logger = logging.getLogger(__name__)

OPTIMIZERS = {"SGD": torch.optim.SGD, "Adam": torch.optim.Adam, "AdamW": torch.optim.AdamW}


def unwrap(model: nn.Module) -> nn.Module:
    """The model inside a DistributedDataParallel wrapper (or the model itself)."""
    return model.module if isinstance(model, nn.parallel.DistributedDataParallel) else model


class AtomicCheckpointer(TSJCheckpointer):
    """A :class:`~tsjnet_plugin.d2.weights.TSJCheckpointer` (stock weights into the TSJNet
    models) whose files are written to a temporary file and renamed,
    so a crash while saving never leaves a truncated checkpoint or a stale ``last_checkpoint``
    pointing at one."""

    def save(self, name: str, **kwargs: Any) -> None:
        if not self.save_dir or not self.save_to_disk:
            return
        data = {"model": self.model.state_dict()}
        for key, obj in self.checkpointables.items():
            data[key] = obj.state_dict()
        data.update(kwargs)
        path = f"{self.save_dir}/{name}.pth"
        self.logger.info("Saving checkpoint to %s", path)
        atomic_torch_save(data, path)
        self.tag_last_checkpoint(f"{name}.pth")

    def _load_file(self, filename: str) -> dict[str, Any]:
        """detectron2's loader (``weights_only`` for ``.pth``), with a one-line
        :class:`CheckpointError` for a file it cannot read."""
        try:
            return super()._load_file(filename)
        except (pickle.UnpicklingError, RuntimeError, EOFError) as err:
            raise CheckpointError(
                f"cannot read checkpoint {filename}: {load_failure_reason(err)}; the file is "
                "truncated or not a torch checkpoint"
            ) from None

    def get_checkpoint_file(self) -> str:
        """The file ``last_checkpoint`` names or, when that one is truncated or corrupt, the
        newest readable ``.pth`` in the folder (a one-line warning says so)."""
        latest = super().get_checkpoint_file()
        found = newest_readable_checkpoint(latest, self.get_all_checkpoint_files())
        return str(found) if found else latest


class ScheduledStepRunner(SimpleTrainer):
    """One optimisation step per iteration over the tasks the schedule names.

    Mixed precision (CUDA only) autocasts to float16 with a ``torch.amp.GradScaler`` or to
    bfloat16 without one (bfloat16 has float32's exponent range); gradient clipping configured
    in the optimizer runs inside ``scaler.step`` after unscaling. A non-finite total loss skips the
    step (on every rank, so DDP stays in step) and is logged; ``max_nan_steps`` in a row raise.

    Args:
        model, data_loader, optimizer: as for :class:`SimpleTrainer`.
        schedule: which task losses to compute at each iteration.
        amp: autocast on CUDA.
        amp_dtype: "float16" (with gradient scaling) or "bfloat16" (without).
        max_nan_steps: consecutive non-finite losses tolerated.
    """

    def __init__(
        self,
        model: nn.Module,
        data_loader,
        optimizer: torch.optim.Optimizer,
        schedule: TaskSchedule,
        amp: bool = False,
        max_nan_steps: int = 5,
        amp_dtype: str = "float16",
    ) -> None:
        super().__init__(model, data_loader, optimizer)
        self.amp_dtype = amp_dtype_of(amp_dtype, "SOLVER.AMP.DTYPE")
        self.schedule = schedule
        self.amp = amp and torch.cuda.is_available()
        self.grad_scaler = torch.amp.GradScaler(
            "cuda", enabled=self.amp and self.amp_dtype == torch.float16
        )
        self.max_nan_steps = max_nan_steps
        self.nan_steps = 0

    def _all_finite(self, loss: torch.Tensor) -> bool:
        finite = torch.isfinite(loss.detach()).float()
        if comm.get_world_size() > 1:
            torch.distributed.all_reduce(finite, op=torch.distributed.ReduceOp.MIN)
        return bool(finite.item())

    def _skip_step(self, tasks: tuple[str, ...], reason: str) -> None:
        self.optimizer.zero_grad()
        self.nan_steps += 1
        logger.warning(
            "iteration %d (%s): %s; step skipped (%d in a row)",
            self.iter,
            "+".join(tasks),
            reason,
            self.nan_steps,
        )
        get_event_storage().put_scalar("skipped_nan_steps", self.nan_steps, smoothing_hint=False)
        if self.nan_steps >= self.max_nan_steps:
            raise FloatingPointError(
                f"{self.nan_steps} non-finite losses in a row (SCHEDULE.MAX_NAN_STEPS); last: {reason}"
            )

    def run_step(self) -> None:
        assert self.model.training, "[ScheduledStepRunner] model was changed to eval mode!"
        start = time.perf_counter()
        data = next(self._data_loader_iter)
        data_time = time.perf_counter() - start
        tasks = self.schedule.tasks_at(self.iter)
        try:
            with torch.autocast("cuda", dtype=self.amp_dtype, enabled=self.amp):
                loss_dict = self.model(data, tasks=tasks)
        except FloatingPointError as err:
            # detectron2's heads raise on non-finite boxes; other ranks could not follow a skip.
            if comm.get_world_size() > 1:
                raise
            self._skip_step(tasks, f"the model raised {err}")
            return
        losses = sum(loss_dict.values())
        self.optimizer.zero_grad()
        finite = self._all_finite(losses)
        # Backward runs on skipped steps too, so that DDP's gradient reduction stays in step.
        self.grad_scaler.scale(losses).backward()
        if not finite:
            self._skip_step(
                tasks, f"non-finite loss { ({k: float(v) for k, v in loss_dict.items()}) }"
            )
            return
        self.nan_steps = 0
        self.after_backward()
        self._write_metrics(loss_dict, data_time)
        self.grad_scaler.step(self.optimizer)
        self.grad_scaler.update()

    def state_dict(self) -> dict:
        state = super().state_dict()
        state["grad_scaler"] = self.grad_scaler.state_dict()
        state["schedule"] = self.schedule.state_dict()
        return state

    def load_state_dict(self, state_dict: dict) -> None:
        super().load_state_dict(state_dict)
        if "grad_scaler" in state_dict:
            self.grad_scaler.load_state_dict(state_dict["grad_scaler"])
        saved = state_dict.get("schedule")
        if saved and saved != self.schedule.state_dict():
            logger.warning(
                "resuming with schedule %s; the checkpoint used %s",
                self.schedule.state_dict(),
                saved,
            )


def build_schedule(cfg: CfgNode, model: nn.Module) -> TaskSchedule:
    """The schedule of ``cfg.SCHEDULE`` over the tasks ``model`` has (none: fusion-only)."""
    return build_task_schedule(cfg.SCHEDULE.MODE, unwrap(model).tasks, cfg.SCHEDULE.RATIO)


class TSJTrainer(DefaultTrainer):
    """DefaultTrainer for :class:`~tsjnet_plugin.d2.meta_arch.TSJNetJointModel` and for stock
    meta-architectures with ``MODEL.BACKBONE.NAME: "build_tsjnet_backbone"``.

    Differences from detectron2's: the paired-data mapper; one optimizer with parameter groups
    (fusion, detector, segmentor) and ``SOLVER.LR_FACTORS``; stock weights remapped into the
    TSJNet layout (:class:`~tsjnet_plugin.d2.weights.TSJCheckpointer`); atomic checkpoints;
    evaluators chosen from the model's tasks and the dataset's classes. Joint model only: the
    scheduled step runner and DDP with ``find_unused_parameters`` (a detection step leaves the
    segmentor unused and vice versa). Wrapped backbone only: the fusion losses join the stock
    loss dict through :func:`~tsjnet_plugin.d2.backbone.add_fusion_losses`.
    """

    def __init__(self, cfg: CfgNode) -> None:
        self._resumed: dict[str, Any] = {}
        # (iteration, every rank's RNG states), set by GatherRankRngStates in multi-process runs
        self._rank_rng_states: tuple[int, list[dict]] | None = None
        # DefaultTrainer.__init__ fixes the DDP arguments and the step runner, so the same
        # construction is spelled out here with ours.
        super(DefaultTrainer, self).__init__()
        cfg = DefaultTrainer.auto_scale_workers(cfg, comm.get_world_size())
        model = self.build_model(cfg)
        optimizer = self.build_optimizer(cfg, model)
        data_loader = self.build_train_loader(cfg)
        on_cpu = cfg.MODEL.DEVICE == "cpu"
        if isinstance(model, TSJNetJointModel):
            check_class_counts(cfg, *model.num_classes)  # the loader has set the classes
            schedule = build_schedule(cfg, model)
            model = create_ddp_model(
                model,
                broadcast_buffers=False,
                find_unused_parameters=True,
                **({"device_ids": None} if on_cpu else {}),
            )
            self._trainer = ScheduledStepRunner(
                model,
                data_loader,
                optimizer,
                schedule,
                amp=cfg.SOLVER.AMP.ENABLED,
                max_nan_steps=cfg.SCHEDULE.MAX_NAN_STEPS,
                amp_dtype=cfg.SOLVER.AMP.DTYPE,
            )
        else:
            model = create_ddp_model(
                model, broadcast_buffers=False, **({"device_ids": None} if on_cpu else {})
            )
            amp = cfg.SOLVER.AMP.ENABLED and torch.cuda.is_available()
            if amp:
                # bfloat16: a disabled (no-op) scaler
                dtype = amp_dtype_of(cfg.SOLVER.AMP.DTYPE, "SOLVER.AMP.DTYPE")
                scaler = torch.amp.GradScaler("cuda", enabled=dtype == torch.float16)
                self._trainer = AMPTrainer(
                    model, data_loader, optimizer, grad_scaler=scaler, precision=dtype
                )
            else:
                self._trainer = SimpleTrainer(model, data_loader, optimizer)
        self.scheduler = self.build_lr_scheduler(cfg, optimizer)
        self.checkpointer = self.build_checkpointer(model, cfg, trainer=weakref.proxy(self))
        self.start_iter = 0
        self.max_iter = cfg.SOLVER.MAX_ITER
        self.cfg = cfg
        self.register_hooks(self.build_hooks())

    @classmethod
    def build_model(cls, cfg: CfgNode) -> nn.Module:
        """detectron2's model of ``cfg``; fusion losses of a wrapped backbone join its loss dict."""
        return add_fusion_losses(super().build_model(cfg))

    @property
    def last_eval_results(self) -> dict:
        """The results of the last evaluation during training (what detectron2's ``EvalHook``
        keeps from ``test``); empty before the first one."""
        return dict(getattr(self, "_last_eval_results", None) or {})

    def state_dict(self) -> dict:
        """detectron2's trainer state plus the RNG states and the position in the data stream
        (images of all ranks consumed after this iteration), for an exact resume.

        ``rng`` is this process's generators; in a multi-process run ``rng_per_rank`` holds
        every rank's, gathered by :class:`GatherRankRngStates` at the checkpoint's iteration
        (only rank 0 writes checkpoints)."""
        state = super().state_dict()
        state["rng"] = capture_rng_state()
        gathered = self._rank_rng_states
        if gathered is not None and gathered[0] == self.iter:
            state["rng_per_rank"] = gathered[1]
        state["data_position"] = (self.iter + 1) * self.cfg.SOLVER.IMS_PER_BATCH
        return state

    def load_state_dict(self, state_dict: dict) -> None:
        super().load_state_dict(state_dict)
        keys = ("rng", "rng_per_rank", "data_position")
        self._resumed = {k: state_dict[k] for k in keys if k in state_dict}

    def resume_or_load(self, resume: bool = True) -> None:
        """detectron2's resume, made exact: the data stream restarts where the checkpoint left
        it and every rank's RNGs continue from their saved states (a multi-process checkpoint
        restores only into the same number of processes)."""
        super().resume_or_load(resume=resume)
        if not self._resumed:
            return
        position = self._resumed.get("data_position")
        if position is not None:
            self._trainer.reset_data_loader(
                lambda: self.build_train_loader(self.cfg, start=position)
            )
        world = comm.get_world_size()
        per_rank = self._resumed.get("rng_per_rank")
        if world == 1 and "rng" in self._resumed:
            restore_rng_state(self._resumed["rng"])
        elif per_rank is not None and len(per_rank) == world:
            restore_rng_state(per_rank[comm.get_rank()])
        else:
            logger.warning(
                "the checkpoint has no RNG states for %d processes (it has %s); random "
                "augmentations and sampling continue from fresh seeds",
                world,
                len(per_rank) if per_rank is not None else "none",
            )

    def build_writers(self) -> list:
        """detectron2's writers (console, ``metrics.json``, TensorBoard) with medians over
        ``SOLVER.LOG_PERIOD`` iterations (1: every iteration's own values)."""
        period = self.cfg.SOLVER.LOG_PERIOD
        os.makedirs(self.cfg.OUTPUT_DIR, exist_ok=True)
        self.writers = [
            CommonMetricPrinter(self.max_iter, window_size=period),
            JSONWriter(f"{self.cfg.OUTPUT_DIR}/metrics.json", window_size=period),
            TensorboardXWriter(self.cfg.OUTPUT_DIR, window_size=period),
        ]
        return self.writers

    def build_hooks(self) -> list:
        """detectron2's hooks, with the writers run every ``SOLVER.LOG_PERIOD`` iterations."""
        built = [
            hooks.PeriodicWriter(self.writers, period=self.cfg.SOLVER.LOG_PERIOD)
            if isinstance(h, hooks.PeriodicWriter)
            else h
            for h in super().build_hooks()
        ]
        if comm.get_world_size() > 1:
            # Every rank gathers right where rank 0 (the only one with a checkpointer) saves.
            later = (hooks.PeriodicCheckpointer, hooks.EvalHook, hooks.PeriodicWriter)
            index = next((i for i, h in enumerate(built) if isinstance(h, later)), len(built))
            gather = GatherRankRngStates(self.cfg.SOLVER.CHECKPOINT_PERIOD, self.max_iter)
            built.insert(index, gather)
        return built

    @staticmethod
    def build_checkpointer(
        model: nn.Module, cfg: CfgNode, **checkpointables: Any
    ) -> AtomicCheckpointer:
        """The checkpointer of ``model`` in ``cfg.OUTPUT_DIR`` (atomic writes)."""
        return AtomicCheckpointer(model, cfg.OUTPUT_DIR, **checkpointables)

    @classmethod
    def build_optimizer(cls, cfg: CfgNode, model: nn.Module) -> torch.optim.Optimizer:
        """One optimizer, parameter groups per part with ``SOLVER.LR_FACTORS``; frozen parts and
        parameters with ``requires_grad=False`` are left out."""
        name = cfg.SOLVER.OPTIMIZER
        if name not in OPTIMIZERS:
            raise ValueError(f"SOLVER.OPTIMIZER must be one of {sorted(OPTIMIZERS)}, got {name!r}")
        groups = []
        seen: set[int] = set()  # a wrapped model's "detector" part holds its fusion part too
        for part, module, factor in _optimizer_parts(unwrap(model), cfg.SOLVER.LR_FACTORS):
            if module is None:
                continue
            taken = set(seen)
            seen.update(id(p) for p in module.parameters())
            if factor == 0 or not any(p.requires_grad for p in module.parameters()):
                continue
            params = get_default_optimizer_params(
                module,
                base_lr=cfg.SOLVER.BASE_LR * factor,
                weight_decay_norm=cfg.SOLVER.WEIGHT_DECAY_NORM,
                bias_lr_factor=cfg.SOLVER.BIAS_LR_FACTOR,
                weight_decay_bias=cfg.SOLVER.WEIGHT_DECAY_BIAS,
            )
            for group in params:
                group["params"] = [p for p in group["params"] if id(p) not in taken]
                group["name"] = part
            groups += [group for group in params if group["params"]]
        if not groups:
            raise ValueError("nothing to train: every part of the model is frozen")
        kwargs: dict[str, Any] = {"lr": cfg.SOLVER.BASE_LR, "weight_decay": cfg.SOLVER.WEIGHT_DECAY}
        if name == "SGD":
            kwargs.update(momentum=cfg.SOLVER.MOMENTUM, nesterov=cfg.SOLVER.NESTEROV)
        optimizer_cls = maybe_add_gradient_clipping(cfg, OPTIMIZERS[name])
        return optimizer_cls(groups, **kwargs)

    @classmethod
    def build_train_loader(cls, cfg: CfgNode, start: int = 0):
        """The paired-data train loader; with ``DATALOADER.SAMPLER_TRAIN: TrainingSampler`` its
        stream starts at global position ``start`` (:class:`ResumableTrainingSampler`).

        The loader's worker seeds come from its own generator (seeded with ``SEED``), not from
        the global torch RNG, so that creating the loader's iterator at the first iteration
        after a resume leaves the restored RNG state untouched."""
        mapper = PairDatasetMapper(cfg, True)
        seed = cfg.SEED if cfg.SEED >= 0 else int.from_bytes(os.urandom(4), "little")
        if cfg.DATALOADER.SAMPLER_TRAIN != "TrainingSampler":
            if start:
                logger.warning(
                    "resume: %s cannot start mid-stream; the data order restarts",
                    cfg.DATALOADER.SAMPLER_TRAIN,
                )
            return build_detection_train_loader(cfg, mapper=mapper, seed=seed)
        dataset = get_detection_dataset_dicts(
            cfg.DATASETS.TRAIN, filter_empty=cfg.DATALOADER.FILTER_EMPTY_ANNOTATIONS
        )
        sampler = ResumableTrainingSampler(len(dataset), seed=cfg.SEED, start=start)
        return build_detection_train_loader(
            cfg, mapper=mapper, dataset=dataset, sampler=sampler, seed=seed
        )

    @classmethod
    def build_test_loader(cls, cfg: CfgNode, dataset_name: str):
        return build_detection_test_loader(cfg, dataset_name, mapper=PairDatasetMapper(cfg, False))

    @classmethod
    def test(cls, cfg: CfgNode, model: nn.Module, evaluators=None):
        """detectron2's evaluation, leaving the RNG states as it found them (so that evaluating
        during training, or not, as a resumed run does not, leaves the training stream alone)."""
        state = capture_rng_state()
        try:
            return super().test(cfg, model, evaluators)
        finally:
            restore_rng_state(state)

    @classmethod
    def build_evaluator(cls, cfg: CfgNode, dataset_name: str, output_folder: str | None = None):
        """The task evaluators (:meth:`build_task_evaluators`) and, for the joint model, the
        fusion metrics."""
        output_folder = output_folder or f"{cfg.OUTPUT_DIR}/inference/{dataset_name}"
        evaluators = cls.build_task_evaluators(cfg, dataset_name, output_folder)
        if cfg.MODEL.META_ARCHITECTURE == "TSJNetJointModel":
            evaluators.append(
                FusionQualityEvaluator(dataset_name, distributed=True, output_dir=output_folder)
            )
        return DatasetEvaluators(evaluators)

    @classmethod
    def build_task_evaluators(
        cls, cfg: CfgNode, dataset_name: str, output_folder: str
    ) -> list[DatasetEvaluator]:
        """COCO mAP when the model detects and the dataset has boxes, mIoU when it segments and
        the dataset has masks.

        Raises:
            ValueError: a stock meta-architecture with no evaluator for this dataset.
        """
        meta = MetadataCatalog.get(dataset_name)
        if cfg.MODEL.META_ARCHITECTURE != "TSJNetJointModel":
            return _stock_evaluators(cfg, dataset_name, meta, output_folder)
        evaluators: list[DatasetEvaluator] = []
        if cfg.MODEL.TSJNET.DETECTOR.META_ARCHITECTURE and meta.get("thing_classes", None):
            evaluators.append(
                COCOEvaluator(
                    dataset_name, tasks=("bbox",), distributed=True, output_dir=output_folder
                )
            )
        if cfg.MODEL.TSJNET.SEGMENTOR.TYPE and meta.get("stuff_classes", None):
            evaluators.append(
                SemSegEvaluator(dataset_name, distributed=True, output_dir=output_folder)
            )
        return evaluators


class GatherRankRngStates(hooks.HookBase):
    """Gathers every rank's RNG states onto the trainer (``_rank_rng_states``) at each
    iteration rank 0's :class:`~detectron2.engine.hooks.PeriodicCheckpointer` saves, so that
    the checkpoint holds all of them (:meth:`TSJTrainer.state_dict`). A collective: every rank
    has this hook (detectron2 builds the checkpointer on rank 0 only) and runs it at the same
    iterations, before the checkpointer.

    Args:
        period, max_iter: the checkpointer's (it saves when ``(iter + 1) % period == 0`` and at
            ``iter >= max_iter - 1``).
    """

    def __init__(self, period: int, max_iter: int | None) -> None:
        self.period, self.max_iter = period, max_iter

    def after_step(self) -> None:
        iteration = self.trainer.iter
        final = self.max_iter is not None and iteration >= self.max_iter - 1
        if (iteration + 1) % self.period == 0 or final:
            self.trainer._rank_rng_states = (iteration, comm.all_gather(capture_rng_state()))


def _optimizer_parts(model: nn.Module, factors: CfgNode) -> list[tuple[str, nn.Module, float]]:
    """(group name, module, LR factor) of the joint model's parts, or of a stock model's fusion
    networks and the rest ("detector")."""
    if isinstance(model, TSJNetJointModel):
        return [
            ("fusion", model.fusion, factors.FUSION),
            ("detector", model.detector, factors.DETECTOR),
            ("segmentor", model.segmentor, factors.SEGMENTOR),
        ]
    fusions = [("fusion", b.fusion, factors.FUSION) for b in fusion_backbones(model)]
    return [*fusions, ("detector", model, factors.DETECTOR)]


def _stock_evaluators(
    cfg: CfgNode, dataset_name: str, meta: Any, output_folder: str
) -> list[DatasetEvaluator]:
    """A stock meta-architecture's evaluators: COCO boxes for detectors, mIoU for semantic and
    panoptic segmentors, each when the dataset has those classes."""
    arch = cfg.MODEL.META_ARCHITECTURE
    evaluators = []
    if arch != "SemanticSegmentor" and meta.get("thing_classes", None):
        evaluators.append(
            COCOEvaluator(dataset_name, tasks=("bbox",), distributed=True, output_dir=output_folder)
        )
    if arch in ("SemanticSegmentor", "PanopticFPN") and meta.get("stuff_classes", None):
        evaluators.append(SemSegEvaluator(dataset_name, distributed=True, output_dir=output_folder))
    if not evaluators:
        raise ValueError(
            f"no evaluator for MODEL.META_ARCHITECTURE {arch!r} on dataset {dataset_name!r} "
            "(it has neither the thing_classes nor the stuff_classes that model predicts)"
        )
    return evaluators
