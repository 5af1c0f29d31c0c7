# detectron2's LazyConfig baseline COCO-Detection/retinanet_R_50_FPN_1x.py, unchanged, with TSJNet
# fusion in front of its backbone and the paired data (docs/d2.md, "Stock configs").
# Train with detectron2's tools/lazyconfig_train_net.py --config-file <this file>.
from detectron2.config import LazyCall as L
from detectron2.model_zoo import get_config

from tsjnet_plugin.d2 import PairDatasetMapper, TSJNetBackbone, add_fusion_losses, register_builtin
from tsjnet_plugin.fusion import FusionFrontEnd

_stock = get_config("COCO-Detection/retinanet_R_50_FPN_1x.py")
dataloader, optimizer = _stock.dataloader, _stock.optimizer
lr_multiplier, train = _stock.lr_multiplier, _stock.train

model = _stock.model
model.pixel_mean = [*model.pixel_mean, 0.0]  # the stock 3 (BGR) + the IR channel
model.pixel_std = [*model.pixel_std, 1.0]
model.backbone = L(TSJNetBackbone)(
    inner=model.backbone,  # the stock backbone, unchanged
    fusion=L(FusionFrontEnd)(arch="fast", checkpoint="tsjnet_fast_roadscene"),  # shipped weights
    pixel_mean="${..pixel_mean}",
    pixel_std="${..pixel_std}",
    input_format="${..input_format}",
)
model = L(add_fusion_losses)(model=model)  # fusion losses join the detector's loss dict

register_builtin()  # the paired datasets: tsj_synthetic_*, msrs_*, m3fd, llvip_*
for _split, _loader in (("train", dataloader.train), ("test", dataloader.test)):
    _loader.dataset.names = f"tsj_synthetic_{_split}"
    _loader.mapper = L(PairDatasetMapper)(
        is_train=_split == "train",
        augmentations=_loader.mapper.augmentations,
        stack_ir=True,
        image_format="BGR",
    )
model.model.num_classes = 3  # the dataset's thing classes
