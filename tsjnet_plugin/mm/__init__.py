"""OpenMMLab adapter: `import tsjnet_plugin.mm` (or `custom_imports=dict(imports=['tsjnet_plugin.mm'])`
in a config) registers the plugin's datasets, transforms, fusion preprocessor and backbone, joint
model, hooks, metrics and inferencer in mmengine's root registries."""

from tsjnet_plugin.fusion import split_pair

from .datasets import TSJPairDataset
from .transforms import ApplyToVisible, LoadIRVisPair, LoadPairSegLabel

__all__ = [
    "ApplyToVisible",
    "LoadIRVisPair",
    "LoadPairSegLabel",
    "TSJPairDataset",
    "split_pair",
]

from .backbone import TSJFusionBackbone
from .hooks import TSJFusionLossHook, TSJNumClassCheckHook, TSJScheduleHook
from .inference import TSJInferencer
from .joint_model import TSJJointModel
from .metrics import TSJFusionMetric, TSJTaskMetric
from .preprocessor import TSJFusionPreprocessor
from .resume import TSJExactResumeHook

__all__ += [
    "TSJExactResumeHook",
    "TSJFusionBackbone",
    "TSJFusionLossHook",
    "TSJFusionMetric",
    "TSJFusionPreprocessor",
    "TSJInferencer",
    "TSJJointModel",
    "TSJNumClassCheckHook",
    "TSJScheduleHook",
    "TSJTaskMetric",
]
