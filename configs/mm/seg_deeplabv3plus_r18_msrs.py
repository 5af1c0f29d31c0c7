# DeepLabV3+ (ResNet-18-D8) for MSRS's 9 segmentation classes.
_base_ = "./seg_deeplabv3plus_r18_tsj.py"

num_classes = 9
model = dict(
    decode_head=dict(num_classes=num_classes),
    auxiliary_head=dict(num_classes=num_classes),
)
