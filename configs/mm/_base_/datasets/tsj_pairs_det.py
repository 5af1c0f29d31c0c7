# Paired IR/visible data for any stock mmdet config: train/val/test dataloaders and evaluators.
# Use it as a second `_base_` and assign its keys (docs/mm.md, "Paired data in one `_base_` line"):
#     _base_ = ["mmdet::<stock config>.py", "<tsjnet_plugin>/configs/mm/_base_/datasets/tsj_pairs_det.py"]
#     train_dataloader = _base_.tsj_pairs.train_dataloader   (and the other four keys)
# Only `tsj_*` names: mmengine refuses a key that two `_base_` files both define. The dataset
# replaces the stock one (`_delete_`, also a YOLOX MultiImageMixDataset: Mosaic/MixUp cannot
# carry the 4-channel pair); the stock batch size, workers and sampler stay.
# Other data: --cfg-options train_dataloader.dataset.data_root=... (and .reader=, .split=).
tsj_det_dataset = dict(
    type="TSJPairDataset",
    reader="msrs",
    data_root="datasets/MSRS",
    task="det",
    filter_cfg=dict(filter_empty_gt=True),
)
tsj_det_pipelines = dict(
    train=[
        dict(type="LoadIRVisPair"),
        dict(type="LoadAnnotations", with_bbox=True),
        dict(type="RandomFlip", prob=0.5),
        # Photometric transforms see the visible channels only, and are clipped to [0, 255].
        dict(type="ApplyToVisible", transforms=[dict(type="PhotoMetricDistortion")]),
        dict(type="PackDetInputs"),
    ],
    test=[
        dict(type="LoadIRVisPair"),
        dict(type="Resize", scale_factor=1.0, keep_ratio=True),  # native size; sets scale_factor
        dict(type="LoadAnnotations", with_bbox=True),
        # CocoMetric without an annotation file reads the ground truth from `instances`.
        dict(
            type="PackDetInputs",
            meta_keys=("img_id", "img_path", "ori_shape", "img_shape", "scale_factor", "instances"),
        ),
    ],
)
tsj_det_evaluator = [
    dict(type="CocoMetric", metric="bbox", ann_file=None),
    dict(type="TSJFusionMetric"),
]
tsj_pairs = dict(
    train_dataloader=dict(
        dataset=dict(
            _delete_=True, split="train", pipeline=tsj_det_pipelines["train"], **tsj_det_dataset
        )
    ),
    val_dataloader=dict(
        dataset=dict(
            _delete_=True,
            split="test",
            test_mode=True,
            pipeline=tsj_det_pipelines["test"],
            **tsj_det_dataset,
        )
    ),
    test_dataloader=dict(
        dataset=dict(
            _delete_=True,
            split="test",
            test_mode=True,
            pipeline=tsj_det_pipelines["test"],
            **tsj_det_dataset,
        )
    ),
    val_evaluator=tsj_det_evaluator,
    test_evaluator=tsj_det_evaluator,
)
