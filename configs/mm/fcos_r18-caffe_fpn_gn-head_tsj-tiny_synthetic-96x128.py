# Stock mmdet FCOS (caffe-style ResNet-18: BGR input, no std) with the TSJNet fusion
# preprocessor dropped in, trained on the embedded synthetic IR/visible pairs (96x128) on CPU.
_base_ = "mmdet::fcos/fcos_r50-caffe_fpn_gn-head_1x_coco.py"

# --- Add TSJNet (docs/mm.md), plus ResNet-18 and the synthetic classes ---
custom_imports = dict(imports=["tsjnet_plugin.mm"])
model = dict(
    data_preprocessor=dict(
        _delete_=True,
        type="TSJFusionPreprocessor",
        preprocessor=_base_.model.data_preprocessor,  # the stock one, unchanged
        fusion=dict(arch="tiny"),  # real runs: arch="official", checkpoint="TSJNet.pth"
    ),
    backbone=dict(depth=18, init_cfg=None),  # no model hub here; load weights via load_from
    neck=dict(in_channels=[64, 128, 256, 512]),
    bbox_head=dict(num_classes=3),  # person, car, bike
)
custom_hooks = [dict(type="TSJFusionLossHook")]

# --- Data: the pair is one 4-channel image (B, G, R, IR) from LoadIRVisPair ---
dataset = dict(
    type="TSJPairDataset",
    reader="synthetic",
    data_root="datasets/synthetic_96x128",  # written on first use
    reader_args=dict(num_train=16, num_test=4, height=96, width=128),
    task="det",
)
train_pipeline = [
    dict(type="LoadIRVisPair"),
    dict(type="LoadAnnotations", with_bbox=True),
    dict(type="RandomFlip", prob=0.5),
    dict(type="PackDetInputs"),
]
test_pipeline = [
    dict(type="LoadIRVisPair"),
    dict(type="Resize", scale=(128, 96), keep_ratio=True),
    dict(type="LoadAnnotations", with_bbox=True),
    dict(
        type="PackDetInputs",
        meta_keys=("img_id", "img_path", "ori_shape", "img_shape", "scale_factor"),
    ),
]
train_dataloader = dict(
    batch_size=2,
    num_workers=0,
    persistent_workers=False,
    dataset=dict(_delete_=True, split="train", pipeline=train_pipeline, **dataset),
)
val_dataloader = dict(
    batch_size=1,
    num_workers=0,
    persistent_workers=False,
    dataset=dict(_delete_=True, split="test", test_mode=True, pipeline=test_pipeline, **dataset),
)
test_dataloader = val_dataloader
val_evaluator = [
    dict(type="VOCMetric", metric="mAP", eval_mode="area"),
    dict(type="TSJFusionMetric"),
]
test_evaluator = val_evaluator

train_cfg = dict(_delete_=True, type="IterBasedTrainLoop", max_iters=200, val_interval=100)
param_scheduler = [dict(type="LinearLR", start_factor=0.1, by_epoch=False, begin=0, end=20)]
optim_wrapper = dict(optimizer=dict(lr=0.01))
default_hooks = dict(checkpoint=dict(by_epoch=False, interval=100), logger=dict(interval=10))
log_processor = dict(by_epoch=False)
