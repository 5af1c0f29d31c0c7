"""detectron2 adapter. ``import tsjnet_plugin.d2`` registers ``TSJNetJointModel`` in
``META_ARCH_REGISTRY`` and ``build_tsjnet_backbone`` in ``BACKBONE_REGISTRY``;
:func:`register_builtin` registers the datasets."""

from .backbone import TSJNetBackbone, add_fusion_losses, build_tsjnet_backbone
from .config import add_tsjnet_config
from .data import PairDatasetMapper, pair_dataset_to_dicts, register_builtin, register_pair_dataset
from .evaluation import FusionQualityEvaluator
from .meta_arch import TSJNetJointModel
from .predictor import TSJPredictor
from .trainer import TSJTrainer
from .weights import TSJCheckpointer

__all__ = [
    "FusionQualityEvaluator",
    "PairDatasetMapper",
    "TSJCheckpointer",
    "TSJNetBackbone",
    "TSJNetJointModel",
    "TSJPredictor",
    "TSJTrainer",
    "add_fusion_losses",
    "add_tsjnet_config",
    "build_tsjnet_backbone",
    "pair_dataset_to_dicts",
    "register_builtin",
    "register_pair_dataset",
]
