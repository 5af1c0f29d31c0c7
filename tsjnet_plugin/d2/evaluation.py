"""detectron2 evaluator of fusion quality (EN, SD, SF, ..., MSE; see ``docs/metrics.md``)."""

from __future__ import annotations

import itertools
import json
import os
from collections.abc import Sequence

from detectron2.evaluation import DatasetEvaluator
from detectron2.utils import comm

from tsjnet_plugin.fusion.color import to_unit_range
from tsjnet_plugin.metrics import METRIC_NAMES, mean_scores, score_pair

__all__ = ["FusionQualityEvaluator"]


class FusionQualityEvaluator(DatasetEvaluator):
    """Mean fusion metrics of the model's ``fused_y`` against the input IR and visible Y, scored
    by the core :func:`~tsjnet_plugin.metrics.score_pair` and averaged by
    :func:`~tsjnet_plugin.metrics.mean_scores` (non-finite values left out), as the mm
    ``TSJFusionMetric`` does.

    Reads ``inputs[i]["ir"]`` (``[1, H, W]`` uint8 or float in [0, 1]) and
    ``inputs[i]["image"]`` (``[3, H, W]`` uint8 RGB) from
    :class:`~tsjnet_plugin.d2.PairDatasetMapper` and ``outputs[i]["fused_y"]``.
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
            ir = to_unit_range(item["ir"], "ir") * 255.0
            scores = score_pair(output["fused_y"] * 255.0, ir, item["image"], self.metrics)
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
        return {"fusion": mean_scores([{k: r[k] for k in self.metrics} for r in results])}
