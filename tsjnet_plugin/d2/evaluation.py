"""detectron2 evaluator of fusion quality (EN, SD, SF, ..., MSE; see ``docs/metrics.md``)."""

from __future__ import annotations

import itertools
import json
import math
import os
from collections.abc import Sequence

import numpy as np
import torch
from detectron2.evaluation import DatasetEvaluator
from detectron2.utils import comm

from tsjnet_plugin.fusion import rgb_to_y
from tsjnet_plugin.metrics import METRIC_NAMES, evaluate_fusion


def _gray_levels(image: torch.Tensor) -> np.ndarray:
    """``[1, H, W]`` in [0, 1] -> ``HxW`` float64 on the 8-bit grid (rounded), as images on disk."""
    return (image[0].detach().float().clamp(0, 1) * 255.0).round().cpu().numpy().astype(np.float64)


class FusionQualityEvaluator(DatasetEvaluator):
    """Mean fusion metrics of the model's ``fused_y`` against the input IR and visible Y.

    Reads ``inputs[i]["ir"]`` (``[1, H, W]`` in [0, 1]) and ``inputs[i]["image"]`` (``[3, H, W]``
    uint8 RGB) from :class:`~tsjnet_plugin.d2.PairDatasetMapper` and ``outputs[i]["fused_y"]``.
    Results: ``{"fusion": {"EN": ..., ...}}``; per-image values go to
    ``output_dir/fusion_metrics.json``.

    Args:
        dataset_name: for messages.
        metrics: metric names (default all twelve).
        distributed: gather results from all ranks.
        output_dir: where to write per-image results (optional).
    """

    def __init__(
        self,
        dataset_name: str,
        metrics: Sequence[str] = METRIC_NAMES,
        distributed: bool = True,
        output_dir: str | None = None,
    ) -> None:
        self.dataset_name = dataset_name
        self.metrics = tuple(metrics)
        self.distributed = distributed
        self.output_dir = output_dir
        self._results: list[dict] = []

    def reset(self) -> None:
        self._results = []

    def process(self, inputs: list[dict], outputs: list[dict]) -> None:
        for item, output in zip(inputs, outputs):
            vis_y = rgb_to_y(item["image"].float()[None] / 255.0)[0]
            scores = evaluate_fusion(
                _gray_levels(output["fused_y"]),
                _gray_levels(item["ir"]),
                _gray_levels(vis_y),
                self.metrics,
            )
            self._results.append({"image_id": item.get("image_id", item["file_name"]), **scores})

    def evaluate(self) -> dict:
        results = self._results
        if self.distributed:
            comm.synchronize()
            results = list(itertools.chain(*comm.gather(results, dst=0)))
            if not comm.is_main_process():
                return {}
        if not results:
            return {}
        if self.output_dir:
            os.makedirs(self.output_dir, exist_ok=True)
            with open(os.path.join(self.output_dir, "fusion_metrics.json"), "w") as handle:
                json.dump(results, handle, indent=1, default=float)
        means = {}
        for name in self.metrics:
            values = [r[name] for r in results if math.isfinite(r[name])]
            means[name] = float(np.mean(values)) if values else float("nan")
        return {"fusion": means}
