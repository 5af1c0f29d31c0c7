# Joint model: one TSJNet fusion trunk shared by a stock mmdet Faster R-CNN and a stock mmseg
# DeepLabV3+ (each inherited from its stock config via mmdet::/mmseg:: in the files named
# below), trained on the embedded synthetic IR/visible pairs (96x128) on CPU.
_base_ = [
    "mmdet::_base_/default_runtime.py",
    "./_base_/datasets/tsj_synthetic_pairs_96x128.py",
    "./_base_/tsj_cpu_runtime.py",
]

custom_imports = dict(imports=["tsjnet_plugin.mm"])
model = dict(
    type="TSJJointModel",
    fusion=dict(arch="fast", checkpoint="tsjnet_fast_roadscene"),  # or "official", "TSJNet.pth"
    detector=dict(config="{{ fileDirname }}/det_faster-rcnn_r18_fpn_tsj.py"),
    segmentor=dict(config="{{ fileDirname }}/seg_deeplabv3plus_r18_pad32.py"),
    schedule=dict(mode="alternate"),  # "alternate" | "sum" (official) | "ratio", ratio=(2, 1)
    task_loss_weights=dict(det=1.0, seg=1.0),
)
custom_hooks = [dict(type="TSJScheduleHook"), dict(type="TSJNumClassCheckHook")]
# Each task sits out some iterations: its parameters get no gradient then.
model_wrapper_cfg = dict(type="MMDistributedDataParallel", find_unused_parameters=True)

# --- Data: one sample carries boxes and the segmentation label ---
dataset = dict(task="joint", **_base_.tsj_synthetic_pairs)
image_scale = (128, 96)  # (W, H) of the test resize
train_pipeline = [
    dict(type="LoadIRVisPair"),
    dict(type="LoadAnnotations", with_bbox=True),
    dict(type="LoadPairSegLabel"),
    dict(type="RandomFlip", prob=0.5),
    dict(type="PackDetInputs"),
]
test_pipeline = [
    dict(type="LoadIRVisPair"),
    dict(type="Resize", scale=image_scale, keep_ratio=True),
    # labels after the resize: predictions are evaluated at the original size
    dict(type="LoadAnnotations", with_bbox=True),
    dict(type="LoadPairSegLabel"),
    dict(
        type="PackDetInputs",
        meta_keys=("img_id", "img_path", "ori_shape", "img_shape", "scale_factor", "flip"),
    ),
]
train_dataloader = dict(
    batch_size=2,
    num_workers=0,
    sampler=dict(type="InfiniteSampler", shuffle=True),
    dataset=dict(split="train", pipeline=train_pipeline, **dataset),
)
val_dataloader = dict(
    batch_size=1,
    num_workers=0,
    drop_last=False,
    sampler=dict(type="DefaultSampler", shuffle=False),
    dataset=dict(split="test", test_mode=True, pipeline=test_pipeline, **dataset),
)
test_dataloader = val_dataloader
val_evaluator = [
    dict(type="VOCMetric", metric="mAP", eval_mode="area"),
    dict(type="TSJTaskMetric", task="seg", metric=dict(type="SemSegMetric", iou_metrics=["mIoU"])),
    dict(type="TSJFusionMetric"),
]
test_evaluator = val_evaluator

# --- Schedule: 200 iterations on CPU (_base_/tsj_cpu_runtime.py) ---
train_cfg = _base_.tsj_train_cfg
val_cfg = dict(type="ValLoop")
test_cfg = dict(type="TestLoop")
optim_wrapper = dict(
    # on GPU: type="AmpOptimWrapper", dtype="bfloat16", loss_scale=1.0 (tools/train_mm.py --amp)
    type="OptimWrapper",
    optimizer=dict(type="SGD", lr=0.01, momentum=0.9, weight_decay=1e-4),
    clip_grad=dict(max_norm=35, norm_type=2),
)
param_scheduler = _base_.tsj_warmup
default_hooks = _base_.tsj_default_hooks
log_processor = _base_.tsj_log_processor
