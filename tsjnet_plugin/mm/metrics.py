"""mm evaluation metrics, registered in mmengine's root `METRICS`.

* `TSJFusionMetric`: fusion quality (EN, SD, ..., MSE; `tsjnet_plugin.metrics.evaluate_fusion`)
  of the fused images the fusion preprocessor, backbone-free joint model or inferencer put in
  each data sample as `pred_fusion`, against the IR and visible images of the same batch;
* `TSJTaskMetric`: runs a stock metric with the classes of one task of a joint dataset
  (`TSJPairDataset(task="joint")` lists detection classes as `classes`; segmentation metrics
  need `seg_classes`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from mmengine.evaluator import BaseMetric
from mmengine.registry import METRICS

from tsjnet_plugin.fusion import split_pair
from tsjnet_plugin.metrics import METRIC_NAMES, mean_scores, score_pair
from tsjnet_plugin.metrics.evaluate import check_metric_request
from tsjnet_plugin.schedule import TASKS

__all__ = ["TSJFusionMetric", "TSJTaskMetric"]


@METRICS.register_module()
class TSJFusionMetric(BaseMetric):
    """Fusion metrics of `pred_fusion.fused` against the pair in `data_batch['inputs']`.

    Every image is compared as 8-bit gray by the core `tsjnet_plugin.metrics.score_pair`: the
    fused Y, the IR channel and the visible Y (BT.601), cropped to the sample's `img_shape`, so
    at the resolution the model saw.

    Args:
        metrics: names from `tsjnet_plugin.metrics.METRIC_NAMES` (all by default). VIF needs
            images of at least 41x41.
        options: per-metric keyword options, e.g. `dict(SSIM=dict(data_range=255.0))`.
        collect_device, prefix: as in `BaseMetric`; results are logged as `fusion/EN`, ...
    """

    default_prefix = "fusion"

    def __init__(
        self,
        metrics: Sequence[str] = METRIC_NAMES,
        options: Mapping[str, Mapping[str, Any]] | None = None,
        collect_device: str = "cpu",
        prefix: str | None = None,
    ) -> None:
        super().__init__(collect_device=collect_device, prefix=prefix)
        self.metrics = tuple(metrics)
        self.options = {name: dict(kwargs) for name, kwargs in (options or {}).items()}
        check_metric_request(self.metrics, self.options)

    def process(self, data_batch: dict, data_samples: Sequence[dict]) -> None:
        """Score each sample; `data_batch['inputs']` holds [4, H, W] (B, G, R, IR) in [0, 255]."""
        for index, (pair, sample) in enumerate(zip(data_batch["inputs"], data_samples)):
            if "pred_fusion" not in sample:
                raise KeyError(
                    f"TSJFusionMetric: sample {index} ({sample.get('img_path')}) has no "
                    "pred_fusion; the model must be TSJJointModel or use TSJFusionPreprocessor"
                )
            fused = sample["pred_fusion"]["fused"]
            height, width = sample.get("img_shape", fused.shape[-2:])[:2]
            vis_bgr, ir = split_pair(pair.float().cpu()[..., :height, :width])
            scores = score_pair(
                fused[0, :height, :width] * 255.0,
                ir,
                vis_bgr.flip(0),
                self.metrics,
                **self.options,
            )
            self.results.append(scores)

    def compute_metrics(self, results: list[dict[str, float]]) -> dict[str, float]:
        """Mean of every metric over the samples, non-finite values left out (`mean_scores`,
        as the detectron2 `FusionQualityEvaluator` does)."""
        return mean_scores(results)


@METRICS.register_module()
class TSJTaskMetric(BaseMetric):
    """A stock metric that sees one task's classes of a joint dataset as `classes`.

    Args:
        metric: the stock metric config, e.g. `dict(type="SemSegMetric", iou_metrics=["mIoU"])`.
        task: "det" or "seg": `dataset_meta[f"{task}_classes"]` (and `_palette`) become
            `classes` (and `palette`) for the wrapped metric.
    """

    def __init__(self, metric: dict, task: str) -> None:
        if task not in TASKS:
            raise ValueError(f"TSJTaskMetric: task must be one of {TASKS}, got {task!r}")
        self.task = task
        self.metric = METRICS.build(metric)
        super().__init__(
            collect_device=self.metric.collect_device, prefix=self.metric.prefix or task
        )

    @property
    def dataset_meta(self) -> dict | None:
        return self.metric.dataset_meta

    @dataset_meta.setter
    def dataset_meta(self, dataset_meta: dict | None) -> None:
        if dataset_meta is None:
            self.metric.dataset_meta = None
            return
        key = f"{self.task}_classes"
        if key not in dataset_meta:
            raise KeyError(
                f"TSJTaskMetric(task={self.task!r}): the dataset metainfo has no {key!r} "
                f"(keys: {sorted(dataset_meta)}); use TSJPairDataset(task='joint')"
            )
        meta = dict(dataset_meta, classes=dataset_meta[key])
        if f"{self.task}_palette" in dataset_meta:
            meta["palette"] = dataset_meta[f"{self.task}_palette"]
        self.metric.dataset_meta = meta

    def process(self, data_batch: Any, data_samples: Sequence[dict]) -> None:
        self.metric.process(data_batch, data_samples)

    def compute_metrics(self, results: list) -> dict:
        return self.metric.compute_metrics(results)

    def evaluate(self, size: int) -> dict:
        return self.metric.evaluate(size)
