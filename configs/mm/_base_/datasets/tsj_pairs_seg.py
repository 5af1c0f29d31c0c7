# Paired IR/visible data for any stock mmseg config: train/val/test dataloaders and evaluators.
# Use it as a second `_base_` and assign its keys (docs/mm.md, "Paired data in one `_base_` line"):
#     _base_ = ["mmseg::<stock config>.py", "<tsjnet_plugin>/configs/mm/_base_/datasets/tsj_pairs_seg.py"]
#     train_dataloader = _base_.tsj_pairs.train_dataloader   (and the other four keys)
# Only `tsj_*` names: mmengine refuses a key that two `_base_` files both define. The dataset
# replaces the stock one (`_delete_`); the stock batch size, workers and sampler stay.
# Other data: --cfg-options train_dataloader.dataset.data_root=... (and .reader=, .split=).
tsj_seg_dataset = dict(type="TSJPairDataset", reader="msrs", data_root="datasets/MSRS", task="seg")
tsj_seg_pipelines = dict(
    train=[
        dict(type="LoadIRVisPair"),
        dict(type="LoadPairSegLabel"),
        dict(type="RandomFlip", prob=0.5),
        # Photometric transforms see the visible channels only, and are clipped to [0, 255].
        dict(type="ApplyToVisible", transforms=[dict(type="PhotoMetricDistortion")]),
        dict(type="PackSegInputs"),
    ],
    test=[
        dict(type="LoadIRVisPair"),
        dict(type="LoadPairSegLabel"),
        dict(type="PackSegInputs"),
    ],
)
tsj_seg_evaluator = [dict(type="IoUMetric", iou_metrics=["mIoU"]), dict(type="TSJFusionMetric")]
tsj_pairs = dict(
    train_dataloader=dict(
        dataset=dict(
            _delete_=True, split="train", pipeline=tsj_seg_pipelines["train"], **tsj_seg_dataset
        )
    ),
    val_dataloader=dict(
        dataset=dict(
            _delete_=True,
            split="test",
            test_mode=True,
            pipeline=tsj_seg_pipelines["test"],
            **tsj_seg_dataset,
        )
    ),
    test_dataloader=dict(
        dataset=dict(
            _delete_=True,
            split="test",
            test_mode=True,
            pipeline=tsj_seg_pipelines["test"],
            **tsj_seg_dataset,
        )
    ),
    val_evaluator=tsj_seg_evaluator,
    test_evaluator=tsj_seg_evaluator,
)
