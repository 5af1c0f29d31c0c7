# Stock mmseg DeepLabV3+ (ResNet-18-D8) with the TSJNet fusion preprocessor dropped in, trained
# on the embedded synthetic IR/visible pairs (96x128) on CPU.
_base_ = "./seg_deeplabv3plus_r18_pad32.py"

# --- Add TSJNet (docs/mm.md) ---
custom_imports = dict(imports=["tsjnet_plugin.mm"])
model = dict(
    data_preprocessor=dict(
        _delete_=True,
        type="TSJFusionPreprocessor",
        preprocessor=_base_.model.data_preprocessor,  # the stock one, unchanged
        fusion=dict(arch="tiny"),  # real runs: arch="official", checkpoint="TSJNet.pth"
    )
)
custom_hooks = [dict(type="TSJFusionLossHook")]
custom_hooks.append(dict(type="TSJNumClassCheckHook"))  # num_classes vs the dataset

# --- Data: the pair is one 4-channel image (B, G, R, IR) from LoadIRVisPair ---
dataset = dict(
    type="TSJPairDataset",
    reader="synthetic",
    data_root="datasets/synthetic_96x128",  # written on first use
    reader_args=dict(num_train=16, num_test=4, height=96, width=128),
    task="seg",
)
train_pipeline = [
    dict(type="LoadIRVisPair"),
    dict(type="LoadPairSegLabel"),
    dict(type="RandomFlip", prob=0.5),
    dict(type="ApplyToVisible", transforms=[dict(type="PhotoMetricDistortion")]),
    dict(type="PackSegInputs"),
]
test_pipeline = [
    dict(type="LoadIRVisPair"),
    dict(type="LoadPairSegLabel"),
    dict(type="PackSegInputs"),
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
val_evaluator = [dict(type="IoUMetric", iou_metrics=["mIoU"]), dict(type="TSJFusionMetric")]
test_evaluator = val_evaluator

train_cfg = dict(type="IterBasedTrainLoop", max_iters=200, val_interval=100)
param_scheduler = [dict(type="PolyLR", eta_min=1e-4, power=0.9, begin=0, end=200, by_epoch=False)]
default_hooks = dict(checkpoint=dict(by_epoch=False, interval=100), logger=dict(interval=10))
