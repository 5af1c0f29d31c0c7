# Faster R-CNN (ResNet-18 FPN) as the detection task network of the joint model
# (joint_*.py read only `model` from this file). Stock mmdet config, changed only for the small
# synthetic data and for having no model hub.
_base_ = "mmdet::faster_rcnn/faster-rcnn_r50_fpn_1x_coco.py"

num_classes = 3  # the embedded synthetic dataset: person, car, bike
model = dict(
    backbone=dict(depth=18, init_cfg=None),  # no model hub here; load weights via load_from
    neck=dict(in_channels=[64, 128, 256, 512]),
    roi_head=dict(bbox_head=dict(num_classes=num_classes)),
)
