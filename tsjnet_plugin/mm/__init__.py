"""OpenMMLab adapter: `import tsjnet_plugin.mm` (or `custom_imports=dict(imports=['tsjnet_plugin.mm'])`
in a config) registers the plugin's datasets and transforms in mmengine's root registries."""

from .datasets import TSJPairDataset
from .transforms import ApplyToVisible, LoadIRVisPair, LoadPairSegLabel, split_pair

__all__ = [
    "ApplyToVisible",
    "LoadIRVisPair",
    "LoadPairSegLabel",
    "TSJPairDataset",
    "split_pair",
]
