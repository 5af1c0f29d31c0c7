# Stock mmseg DeepLabV3+ (ResNet-18-D8) with the TSJNet fusion preprocessor dropped in, trained
# on the embedded synthetic IR/visible pairs (96x128) on CPU.
_base_ = [
    "./seg_deeplabv3plus_r18_pad32.py",
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
custom_hooks.append(dict(type="TSJNumClassCheckHook"))  # num_classes vs the dataset

# --- Data: the synthetic pairs, segmentation pipelines (_base_/datasets/) ---
train_dataloader = _base_.tsj_dataloaders.seg.train
val_dataloader = test_dataloader = _base_.tsj_dataloaders.seg.test
val_evaluator = test_evaluator = _base_.tsj_evaluators.seg

# --- Schedule: 200 iterations on CPU (_base_/tsj_cpu_runtime.py), poly decay ---
train_cfg = _base_.tsj_train_cfg
param_scheduler = [dict(type="PolyLR", eta_min=1e-4, power=0.9, begin=0, end=200, by_epoch=False)]
default_hooks = _base_.tsj_default_hooks
