# DeepLabV3+ (ResNet-18-D8) for small images: the lead's seg_deeplabv3plus_r18_tsj.py with
# batches padded to a multiple of 32 instead of to Cityscapes' fixed 512x1024 crop. The joint
# configs read only its `model`.
_base_ = "./seg_deeplabv3plus_r18_tsj.py"

model = dict(data_preprocessor=dict(size=None, size_divisor=32))
