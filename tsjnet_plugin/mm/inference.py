"""Run an mm config with TSJNet (fusion preprocessor, fusion backbone or joint model) on
(IR, visible) pairs: `TSJInferencer(config, checkpoint)(ir, vis)`.

The pair goes through the config's test pipeline (annotation loading dropped), the model's
`test_step`, and comes back as the stock data sample (`pred_instances`, `pred_sem_seg`, ...) with
`pred_fusion` (`fused` [1, h, w] Y, `rgb` [3, h, w], in [0, 1], at the pipeline's `img_shape`)
plus the fused colour image at the original size as uint8.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import torch
import torch.nn.functional as F
from mmengine.config import Config
from mmengine.dataset import Compose, pseudo_collate
from mmengine.registry import MODELS, init_default_scope
from mmengine.runner import load_state_dict
from mmengine.structures import BaseDataElement, PixelData

from tsjnet_plugin.data import MODALITIES, pack_pair
from tsjnet_plugin.fusion import FusionFrontEnd, ir_to_tensor
from tsjnet_plugin.fusion.color import to_uint8_image

from .checkpoint import load_local_checkpoint
from .preprocessor import PIXEL_MAX

__all__ = ["TSJInferencer", "TSJPrediction", "load_model_checkpoint", "stack_pair_arrays"]

ImageInput = str | os.PathLike | np.ndarray
_ANNOTATION_LOADERS = ("LoadAnnotations", "LoadPairSegLabel")
_PAIR_LOADER = "LoadIRVisPair"


class TSJPrediction(NamedTuple):
    """One inference result.

    Attributes:
        sample: the model's data sample (`pred_instances` / `pred_sem_seg` / `pred_fusion`).
        fused: [H0, W0, 3] uint8 RGB, the fused colour image at the input pair's size.
    """

    sample: BaseDataElement
    fused: np.ndarray


def stack_pair_arrays(ir: np.ndarray, vis: np.ndarray) -> np.ndarray:
    """The `img` that `LoadIRVisPair` makes, from arrays.

    Args:
        ir: [H, W] infrared ([H, W, 1] and [H, W, 3] are reduced to gray), uint8, uint16 or
            float in [0, 1].
        vis: [H, W, 3] RGB (or [H, W] gray), uint8, uint16 or float in [0, 1].

    Returns:
        [H, W, 4] float32 (B, G, R, IR) in [0, 255] (`tsjnet_plugin.data.pack_pair`).

    Raises:
        ValueError: the sizes differ.
    """
    if ir.ndim == 3:  # [H, W, 1], or colour (to gray by BT.601, with a warning)
        ir = ir_to_tensor(ir)[0, 0].numpy()
    return pack_pair(ir, vis)


def load_model_checkpoint(model: torch.nn.Module, path: str | os.PathLike) -> None:
    """Load an mm checkpoint (`state_dict` plus `meta`/`message_hub` with numpy and mmengine
    objects) into `model`, strictly, reading data only (`load_local_checkpoint`)."""
    checkpoint = load_local_checkpoint(path, "cpu")
    if not isinstance(checkpoint, dict):
        raise ValueError(f"{path}: expected an mm checkpoint dict, got {type(checkpoint).__name__}")
    load_state_dict(model, checkpoint.get("state_dict", checkpoint), strict=True)


class TSJInferencer:
    """Build a model from an mm config (and checkpoint) and predict (IR, visible) pairs.

    Args:
        config: config file or `Config` whose `model` holds TSJNet and whose
            `test_dataloader.dataset.pipeline` starts with `LoadIRVisPair`.
        checkpoint: mm checkpoint of the whole model (as `tools/train_mm.py` writes), read
            as data only (`load_local_checkpoint`).
        device: where to run; default CUDA when available.
    """

    def __init__(
        self,
        config: str | os.PathLike | Config,
        checkpoint: str | None = None,
        device: str | None = None,
    ) -> None:
        cfg = config if isinstance(config, Config) else Config.fromfile(str(config))
        init_default_scope(cfg.get("default_scope", "mmengine"))
        self.cfg = cfg
        self.device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
        self.model = MODELS.build(cfg.model)
        if checkpoint:
            load_model_checkpoint(self.model, checkpoint)
        self.model.to(self.device).eval()
        pipeline = [
            t for t in cfg.test_dataloader.dataset.pipeline if t["type"] not in _ANNOTATION_LOADERS
        ]
        if not pipeline or pipeline[0]["type"] != _PAIR_LOADER:
            raise ValueError(
                f"the config's test pipeline must start with {_PAIR_LOADER}, got "
                f"{[t['type'] for t in pipeline]}"
            )
        self.pipeline = Compose(pipeline)
        self.array_pipeline = Compose(pipeline[1:])
        self.front_end = next(
            (m for m in self.model.modules() if isinstance(m, FusionFrontEnd)), None
        )
        if self.front_end is None:
            raise ValueError(f"{type(self.model).__name__} holds no TSJNet fusion network")

    @torch.no_grad()
    def __call__(
        self, ir: ImageInput | Sequence[ImageInput], vis: ImageInput | Sequence[ImageInput]
    ) -> list[TSJPrediction]:
        """Predict one pair (paths or arrays) or equal-length sequences of pairs, one at a time."""
        irs = list(ir) if isinstance(ir, (list, tuple)) else [ir]
        viss = list(vis) if isinstance(vis, (list, tuple)) else [vis]
        if len(irs) != len(viss):
            raise ValueError(f"got {len(irs)} infrared but {len(viss)} visible images")
        return [self._predict_one(i, v) for i, v in zip(irs, viss)]

    def _predict_one(self, ir: ImageInput, vis: ImageInput) -> TSJPrediction:
        data = pseudo_collate([self._load(ir, vis)])
        sample = self.model.test_step(data)[0]
        if "pred_fusion" not in sample:
            sample.pred_fusion = self._fuse(data["inputs"][0], sample.metainfo)
        rgb = sample.pred_fusion.rgb[None].float()
        height, width = sample.metainfo.get("ori_shape", rgb.shape[-2:])[:2]
        if tuple(rgb.shape[-2:]) != (height, width):
            rgb = F.interpolate(rgb, size=(height, width), mode="bilinear", align_corners=False)
        return TSJPrediction(sample, to_uint8_image(rgb))

    def _load(self, ir: ImageInput, vis: ImageInput) -> dict[str, Any]:
        if isinstance(ir, np.ndarray) or isinstance(vis, np.ndarray):
            if not (isinstance(ir, np.ndarray) and isinstance(vis, np.ndarray)):
                raise TypeError("give both images as paths or both as arrays")
            img = stack_pair_arrays(ir, vis)
            results = dict(
                img=img,
                img_shape=img.shape[:2],
                ori_shape=img.shape[:2],
                modalities=MODALITIES,
                img_path=None,
                img_id="array",
            )
            return self.array_pipeline(results)
        return self.pipeline(dict(img_path=str(vis), ir_path=str(ir), img_id=Path(vis).stem))

    def _fuse(self, pair: torch.Tensor, metainfo: dict) -> PixelData:
        """`pred_fusion` for models that keep none (the fusion backbone)."""
        height, width = metainfo.get("img_shape", pair.shape[-2:])[:2]
        pair = pair[None, :, :height, :width].to(self.device).float() / PIXEL_MAX
        batch = self.front_end.fuse_pair(pair)
        return PixelData(fused=batch.fused[0], rgb=batch.rgb[0])
