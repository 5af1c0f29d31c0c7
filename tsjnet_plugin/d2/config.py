"""detectron2 config nodes of tsjnet_plugin: ``MODEL.TSJNET``, ``SCHEDULE``, ``SOLVER.OPTIMIZER``
and ``SOLVER.LR_FACTORS``. Adding them changes no stock default."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from detectron2.config import CfgNode as CN
from detectron2.config import get_cfg

from tsjnet_plugin.tool_errors import UsageError

__all__ = ["add_tsjnet_config", "load_config"]

__all__ = ["add_tsjnet_config"]


def add_tsjnet_config(cfg: CN) -> CN:
    """Add the tsjnet_plugin keys (with official values as defaults) to ``cfg`` in place.

    Only new nodes are added: a stock config behaves as before until it selects a TSJNet part.
    ``MODEL.META_ARCHITECTURE: "TSJNetJointModel"`` selects the joint model; the detector inside it
    is configured by the usual ``MODEL.*`` keys and chosen by ``MODEL.TSJNET.DETECTOR.META_ARCHITECTURE``.
    ``MODEL.BACKBONE.NAME: "build_tsjnet_backbone"`` puts fusion in front of the stock backbone
    ``MODEL.TSJNET.INNER_BACKBONE`` inside any stock meta-architecture.
    """
    tsj = cfg.MODEL.TSJNET = CN()
    # Fusion network: a preset of tsjnet_plugin.fusion.ARCHS; WEIGHTS is a fusion checkpoint
    # (ours or the official four-part TSJNet.pth), loaded before MODEL.WEIGHTS.
    tsj.ARCH = "official"
    tsj.ATTENTION_BACKEND = "auto"
    # Activation checkpointing of the fusion network's encoder, fusion branches and decoder:
    # less GPU memory in training for some extra compute (docs/gpu.md).
    tsj.WITH_CP = False
    tsj.WEIGHTS = ""
    tsj.FREEZE = False
    # With MODEL.BACKBONE.NAME "build_tsjnet_backbone": the stock backbone run on the fused image.
    tsj.INNER_BACKBONE = "build_resnet_backbone"
    # Fusion loss weights (official: 20, 20, 10, 0.1, 6, 1) and the weight of the whole term.
    tsj.FUSION_LOSS = CN()
    tsj.FUSION_LOSS.INTENSITY = 20.0
    tsj.FUSION_LOSS.GRADIENT = 20.0
    tsj.FUSION_LOSS.SSIM = 10.0
    tsj.FUSION_LOSS.DIVERSITY = 0.1
    tsj.FUSION_LOSS.RECON_VIS = 6.0
    tsj.FUSION_LOSS.RECON_IR = 1.0
    tsj.FUSION_LOSS.WEIGHT = 1.0
    # "zeros" (official) or "reflect" for the loss's Sobel/SSIM; "": the arch's default
    # ("zeros" for official, "reflect" for the reduced presets; docs/deviations.md).
    tsj.FUSION_LOSS.PADDING = ""

    # Detector: any detectron2 meta-architecture that takes images and returns a loss dict
    # (GeneralizedRCNN for Faster/Cascade R-CNN, RetinaNet, ...); "" disables detection.
    tsj.DETECTOR = CN()
    tsj.DETECTOR.META_ARCHITECTURE = "GeneralizedRCNN"
    tsj.DETECTOR.WEIGHTS = ""  # e.g. a model-zoo detector file, loaded into the detector only
    tsj.DETECTOR.FREEZE = False
    tsj.DETECTOR.LOSS_WEIGHT = 1.0
    # Loss names to leave out, e.g. ["loss_cls"] as the official code does.
    tsj.DETECTOR.DROP_LOSSES = []

    # Segmentor: "mmseg" (an MMSegmentation segmentor built from CONFIG), "d2" (detectron2's
    # SemanticSegmentor configured by MODEL.SEM_SEG_HEAD) or "" (no segmentation).
    tsj.SEGMENTOR = CN()
    tsj.SEGMENTOR.TYPE = "mmseg"
    tsj.SEGMENTOR.CONFIG = "configs/mm/seg_deeplabv3plus_r18_tsj.py"
    tsj.SEGMENTOR.WEIGHTS = ""
    tsj.SEGMENTOR.FREEZE = False
    tsj.SEGMENTOR.LOSS_WEIGHT = 1.0

    # Which task loss flows into the fusion trunk at each iteration.
    cfg.SCHEDULE = CN()
    cfg.SCHEDULE.MODE = "alternate"  # "alternate" | "sum" (official) | "ratio"
    cfg.SCHEDULE.RATIO = [1, 1]  # iterations per turn for (det, seg) in "ratio" mode
    cfg.SCHEDULE.MAX_NAN_STEPS = 5  # stop after this many non-finite losses in a row

    # Optimizer over all groups: "SGD" (detectron2's), "Adam" (official, with coupled L2 weight
    # decay) or "AdamW". The project configs set their own (configs/Base-TSJNet.yaml: "Adam").
    cfg.SOLVER.OPTIMIZER = "SGD"
    # Autocast dtype of SOLVER.AMP.ENABLED: "float16" (with a GradScaler) or "bfloat16" (none).
    cfg.SOLVER.AMP.DTYPE = "float16"
    # Learning-rate factors per parameter group.
    cfg.SOLVER.LR_FACTORS = CN()
    cfg.SOLVER.LR_FACTORS.FUSION = 1.0
    cfg.SOLVER.LR_FACTORS.DETECTOR = 1.0
    cfg.SOLVER.LR_FACTORS.SEGMENTOR = 1.0
    # Write metrics.json / the console / TensorBoard every this many iterations, as medians over
    # them (detectron2 uses 20; 1 logs every iteration's own losses).
    cfg.SOLVER.LOG_PERIOD = 20
    return cfg


def load_config(config_file: str, opts: Sequence[str] = ()) -> CN:
    """detectron2's default config with the TSJNet keys, ``config_file`` and the ``KEY VALUE``
    overrides ``opts`` merged (not frozen).

    Raises:
        UsageError: a missing file, an odd number of overrides or an unknown key or bad value,
            named in one line.
    """
    if not Path(config_file).is_file():
        raise UsageError(f"--config-file {config_file!r} does not exist")
    if len(opts) % 2:
        raise UsageError(f"overrides must be KEY VALUE pairs, got {len(opts)} items: {list(opts)}")
    cfg = get_cfg()
    add_tsjnet_config(cfg)
    try:
        cfg.merge_from_file(config_file)
        cfg.merge_from_list(list(opts))
    except (KeyError, ValueError, AssertionError, AttributeError) as error:
        reason = error.args[0] if error.args else type(error).__name__
        raise UsageError(f"{config_file} or its overrides: {reason}; see configs/*.yaml") from None
    return cfg
