# The embedded synthetic IR/visible pairs (16 train and 4 test pairs of 96x128, written to
# `data_root` on first use), with the pipelines, CPU dataloaders and evaluators of each task.
# The pair is one 4-channel image (B, G, R, IR) from LoadIRVisPair.
#
# Every name starts with `tsj_`: the configs that use this file also inherit a stock mmdet/mmseg
# config, which already defines `train_dataloader` and the rest, and mmengine refuses a key that
# two bases define. A config sets its own keys from these:
#     train_dataloader = _base_.tsj_dataloaders.det.train
# `_delete_=True` in `dataset` replaces the stock dataset and keeps the stock sampler.
tsj_synthetic_pairs = dict(
    type="TSJPairDataset",
    reader="synthetic",
    data_root="synthetic_96x128",  # under $TSJNET_DATASETS (else datasets/); written on first use
    reader_args=dict(num_train=16, num_test=4, height=96, width=128),
)
tsj_pipelines = dict(
    det=dict(
        train=[
            dict(type="LoadIRVisPair"),
            dict(type="LoadAnnotations", with_bbox=True),
            dict(type="RandomFlip", prob=0.5),
            dict(type="PackDetInputs"),
        ],
        test=[
            dict(type="LoadIRVisPair"),
            dict(type="Resize", scale=(128, 96), keep_ratio=True),
            dict(type="LoadAnnotations", with_bbox=True),
            dict(
                type="PackDetInputs",
                meta_keys=("img_id", "img_path", "ori_shape", "img_shape", "scale_factor"),
            ),
        ],
    ),
    seg=dict(
        train=[
            dict(type="LoadIRVisPair"),
            dict(type="LoadPairSegLabel"),
            dict(type="RandomFlip", prob=0.5),
            dict(type="ApplyToVisible", transforms=[dict(type="PhotoMetricDistortion")]),
            dict(type="PackSegInputs"),
        ],
        test=[
            dict(type="LoadIRVisPair"),
            dict(type="LoadPairSegLabel"),
            dict(type="PackSegInputs"),
        ],
    ),
)
# One dataloader per task and split (train: batches of 2, shuffled by the stock sampler; test: 1).
tsj_dataloaders = {
    task: {
        split: dict(
            batch_size=2 if split == "train" else 1,
            num_workers=0,
            persistent_workers=False,
            dataset=dict(
                _delete_=True,
                split=split,
                test_mode=split == "test",
                pipeline=pipeline,
                task=task,
                **tsj_synthetic_pairs,
            ),
        )
        for split, pipeline in pipelines.items()
    }
    for task, pipelines in tsj_pipelines.items()
}
tsj_evaluators = dict(
    det=[dict(type="VOCMetric", metric="mAP", eval_mode="area"), dict(type="TSJFusionMetric")],
    seg=[dict(type="IoUMetric", iou_metrics=["mIoU"]), dict(type="TSJFusionMetric")],
)
