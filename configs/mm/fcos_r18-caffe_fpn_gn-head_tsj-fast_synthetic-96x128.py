# Stock mmdet FCOS (caffe-style ResNet-18: BGR input, no std) with the TSJNet fusion
# preprocessor dropped in, trained on the embedded synthetic IR/visible pairs (96x128) on CPU.
# Data and schedule as in faster-rcnn_r18_fpn_tsj-fast_synthetic-96x128.py.
_base_ = [
    "mmdet::fcos/fcos_r50-caffe_fpn_gn-head_1x_coco.py",
    "./_base_/datasets/tsj_synthetic_pairs_96x128.py",
    "./_base_/tsj_cpu_runtime.py",
]

# --- Add TSJNet (docs/mm.md), plus ResNet-18 and the synthetic classes ---
custom_imports = dict(imports=["tsjnet_plugin.mm"])
model = dict(
    data_preprocessor=dict(
        _delete_=True,
        type="TSJFusionPreprocessor",
        preprocessor=_base_.model.data_preprocessor,  # the stock one, unchanged
        fusion=dict(arch="fast", checkpoint="tsjnet_fast_roadscene"),  # or "official", "TSJNet.pth"
    ),
    backbone=dict(depth=18, init_cfg=None),  # no model hub here; load weights via load_from
    neck=dict(in_channels=[64, 128, 256, 512]),
    bbox_head=dict(num_classes=3),  # person, car, bike
)
custom_hooks = [dict(type="TSJFusionLossHook")]
# Fusion parameters get their own optimizer rule, so stock paramwise rules (norm/bias decay,
# "head" LR factors, ...) leave them alone; tune them here (lr_mult, decay_mult).
optim_wrapper = dict(paramwise_cfg=dict(custom_keys={"front_end.net.": dict(lr_mult=1.0)}))

# --- Data: the synthetic pairs, detection pipelines (_base_/datasets/) ---
train_dataloader = _base_.tsj_dataloaders.det.train
val_dataloader = test_dataloader = _base_.tsj_dataloaders.det.test
val_evaluator = test_evaluator = _base_.tsj_evaluators.det

# --- Schedule: 200 iterations on CPU (_base_/tsj_cpu_runtime.py); the stock lr is 0.01 ---
train_cfg = dict(_delete_=True, **_base_.tsj_train_cfg)  # the stock loop is epoch-based
param_scheduler = _base_.tsj_warmup
default_hooks = _base_.tsj_default_hooks
log_processor = _base_.tsj_log_processor
