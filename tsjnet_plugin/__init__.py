"""tsjnet_plugin: TSJNet infrared-visible image fusion for detectron2 and OpenMMLab.

The core (this package without ``d2``/``mm``) needs only torch, numpy and natten. Import
``tsjnet_plugin.d2`` or ``tsjnet_plugin.mm`` to register the fusion network in a framework.
"""

from .fusion import TSJNet, TSJNetConfig, build_fusion_model, load_checkpoint, save_checkpoint

__version__ = "0.1.0"

__all__ = [
    "TSJNet",
    "TSJNetConfig",
    "__version__",
    "build_fusion_model",
    "load_checkpoint",
    "save_checkpoint",
]
