# The joint model on MSRS (480x640) with the official fusion network, for a GPU.
_base_ = "./joint_faster-rcnn_deeplabv3plus_r18_tsj-fast_alternate_synthetic-96x128.py"

model = dict(
    # checkpoint: or the official TSJNet.pth; with_cp: activation checkpointing of the fusion
    # network (about 4x less fusion memory for about 1.4x its step time, docs/gpu.md).
    fusion=dict(arch="official", checkpoint=None, with_cp=True),
    detector=dict(
        # set num_classes to the number of classes in your detection class file
        roi_head=dict(bbox_head=dict(num_classes=3)),
    ),
    segmentor=dict(
        decode_head=dict(num_classes=9),  # the 9 MSRS classes
        auxiliary_head=dict(num_classes=9),
    ),
)
msrs = dict(type="TSJPairDataset", reader="msrs", data_root="MSRS", task="joint")
test_pipeline = [
    dict(type="LoadIRVisPair"),
    dict(type="Resize", scale=(640, 480), keep_ratio=True),
    dict(type="LoadAnnotations", with_bbox=True),
    dict(type="LoadPairSegLabel"),
    dict(
        type="PackDetInputs",
        meta_keys=("img_id", "img_path", "ori_shape", "img_shape", "scale_factor", "flip"),
    ),
]
train_dataloader = dict(
    num_workers=4,
    persistent_workers=True,
    dataset=dict(_delete_=True, split="train", pipeline=_base_.train_pipeline, **msrs),
)
val_dataloader = dict(
    num_workers=2,
    persistent_workers=True,
    dataset=dict(_delete_=True, split="test", test_mode=True, pipeline=test_pipeline, **msrs),
)
test_dataloader = val_dataloader
train_cfg = dict(max_iters=20000, val_interval=2000)
# bfloat16 autocast, no loss scaling; GPUs without bfloat16 (before Ampere):
# dict(type="AmpOptimWrapper", dtype="float16", loss_scale="dynamic").
optim_wrapper = dict(type="AmpOptimWrapper", dtype="bfloat16", loss_scale=1.0)
default_hooks = dict(checkpoint=dict(interval=2000), logger=dict(interval=50))
