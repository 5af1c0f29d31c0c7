"""detectron2 adapter. ``import tsjnet_plugin.d2`` registers ``TSJNetJointModel`` in
``META_ARCH_REGISTRY``; :func:`register_builtin` registers the datasets."""

from .config import add_tsjnet_config
from .data import PairDatasetMapper, pair_dataset_to_dicts, register_builtin, register_pair_dataset
from .evaluation import FusionQualityEvaluator
from .meta_arch import TSJNetJointModel
from .predictor import TSJPredictor
from .trainer import TSJTrainer

__all__ = [
    "FusionQualityEvaluator",
    "PairDatasetMapper",
    "TSJNetJointModel",
    "TSJPredictor",
    "TSJTrainer",
    "add_tsjnet_config",
    "pair_dataset_to_dicts",
    "register_builtin",
    "register_pair_dataset",
]
