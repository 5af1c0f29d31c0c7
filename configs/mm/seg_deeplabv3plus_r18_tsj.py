# DeepLabV3+ (ResNet-18-D8) segmentor used as the segmentation task network of the joint
# detectron2 model (MODEL.TSJNET.SEGMENTOR.CONFIG). Only `model` is read from this file.
# Stock mmseg config, changed only where the fused-image task needs it.
_base_ = "mmseg::deeplabv3plus/deeplabv3plus_r18-d8_4xb2-80k_cityscapes-512x1024.py"

num_classes = 4  # the embedded synthetic dataset: background, person, car, bike
norm_cfg = dict(type="BN", requires_grad=True)  # SyncBN only helps multi-GPU runs
model = dict(
    pretrained=None,  # no model hub here; set a local checkpoint via SEGMENTOR.WEIGHTS
    backbone=dict(norm_cfg=norm_cfg),
    decode_head=dict(num_classes=num_classes, norm_cfg=norm_cfg),
    auxiliary_head=dict(num_classes=num_classes, norm_cfg=norm_cfg),
)
