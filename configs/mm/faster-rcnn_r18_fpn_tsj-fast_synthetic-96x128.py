# Stock mmdet Faster R-CNN with the TSJNet fusion preprocessor dropped in, trained on the
# embedded synthetic IR/visible pairs (96x128) on CPU.
_base_ = [
    "./det_faster-rcnn_r18_fpn_tsj.py",
    "./_base_/datasets/tsj_synthetic_pairs_96x128.py",
    "./_base_/tsj_cpu_runtime.py",
]

# --- Add TSJNet (docs/mm.md) ---
custom_imports = dict(imports=["tsjnet_plugin.mm"])
model = dict(
    data_preprocessor=dict(
        _delete_=True,
        type="TSJFusionPreprocessor",
        preprocessor=_base_.model.data_preprocessor,  # the stock one, unchanged
        fusion=dict(arch="fast", checkpoint="tsjnet_fast_roadscene"),  # or "official", "TSJNet.pth"
    )
)
custom_hooks = [dict(type="TSJFusionLossHook")]
# Fusion parameters get their own optimizer rule, so stock paramwise rules (norm/bias decay,
# "head" LR factors, ...) leave them alone; tune them here (lr_mult, decay_mult).
optim_wrapper = dict(paramwise_cfg=dict(custom_keys={"front_end.net.": dict(lr_mult=1.0)}))

# --- Data: the synthetic pairs, detection pipelines (_base_/datasets/) ---
train_dataloader = _base_.tsj_dataloaders.det.train
val_dataloader = test_dataloader = _base_.tsj_dataloaders.det.test
val_evaluator = test_evaluator = _base_.tsj_evaluators.det

# --- Schedule: 200 iterations on CPU (_base_/tsj_cpu_runtime.py) ---
train_cfg = dict(_delete_=True, **_base_.tsj_train_cfg)  # the stock loop is epoch-based
param_scheduler = _base_.tsj_warmup
optim_wrapper["optimizer"] = dict(lr=0.01)
default_hooks = _base_.tsj_default_hooks
log_processor = _base_.tsj_log_processor
