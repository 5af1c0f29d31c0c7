"""Stock detectron2 configs (taken from the installed package) with the fusion backbone: the
docs/d2.md yaml lines and the LazyConfig recipe train, gradients of both the detector loss and
the fusion loss reach the fusion trunk; stock weights load into the TSJNet layouts."""

from __future__ import annotations

import functools
import pickle
import re
from pathlib import Path

import numpy as np
import pytest
import torch
from detectron2 import model_zoo
from detectron2.checkpoint import DetectionCheckpointer
from detectron2.config import LazyConfig, get_cfg, instantiate
from detectron2.data import DatasetCatalog
from detectron2.data import transforms as T
from detectron2.engine import SimpleTrainer, hooks
from detectron2.layers import ShapeSpec
from detectron2.modeling import build_model
from detectron2.utils.events import EventStorage

from tsjnet_plugin.d2 import (
    PairDatasetMapper,
    TSJCheckpointer,
    TSJNetBackbone,
    TSJTrainer,
    add_fusion_losses,
    add_tsjnet_config,
    register_pair_dataset,
)
from tsjnet_plugin.data import read_ir, read_msrs, read_visible, write_synthetic_msrs
from tsjnet_plugin.fusion import FusionFrontEnd, build_model_from_checkpoint

ROOT = Path(__file__).resolve().parents[2]
SNIPPET = re.compile(r"<!-- snippet: d2-tsjnet-backbone -->\s*```yaml\n(.*?)```", re.S)
STOCK_YAML = "COCO-Detection/faster_rcnn_R_50_FPN_1x.yaml"
STOCK_LAZY = ROOT / "configs" / "lazy" / "retinanet_R_50_FPN_1x_tsj.py"
TRAIN, TEST = "tsj_stock_synthetic_train", "tsj_stock_synthetic_test"
FUSION_LOSSES = ("loss_fusion_int", "loss_fusion_grad", "loss_fusion_ssim")
ITERS = 3

# Test-only overrides: tiny data and networks, no downloads.
SHRINK = [
    "MODEL.DEVICE", "cpu",
    "MODEL.WEIGHTS", "",
    "MODEL.TSJNET.ARCH", "tiny",
    "MODEL.TSJNET.WEIGHTS", "",
    "MODEL.RESNETS.DEPTH", "18",
    "MODEL.RESNETS.RES2_OUT_CHANNELS", "64",
    "MODEL.FPN.OUT_CHANNELS", "32",
    "MODEL.ROI_HEADS.BATCH_SIZE_PER_IMAGE", "32",
    "MODEL.RPN.BATCH_SIZE_PER_IMAGE", "64",
    "MODEL.ROI_BOX_HEAD.FC_DIM", "64",
    "INPUT.MIN_SIZE_TRAIN", "(64,)",
    "INPUT.MAX_SIZE_TRAIN", "96",
    "INPUT.MIN_SIZE_TEST", "64",
    "INPUT.MAX_SIZE_TEST", "96",
    "DATASETS.TRAIN", f"('{TRAIN}',)",
    "DATASETS.TEST", f"('{TEST}',)",
    "DATALOADER.NUM_WORKERS", "0",
    "SOLVER.IMS_PER_BATCH", "2",
    "SOLVER.MAX_ITER", str(ITERS),
]  # fmt: skip


@pytest.fixture(scope="module")
def synthetic_root(tmp_path_factory) -> Path:
    root = write_synthetic_msrs(tmp_path_factory.mktemp("synthetic"), 4, 2, 64, 80, seed=5)
    for name, split in ((TRAIN, "train"), (TEST, "test")):
        register_pair_dataset(name, functools.partial(read_msrs, root, split, name=name))
    return root


def stock_yaml_cfg(tmp_path: Path, *opts: str, stock: str = STOCK_YAML):
    """A stock yaml (default Faster R-CNN) as `_BASE_` plus the docs/d2.md lines, shrunk."""
    match = SNIPPET.search((ROOT / "docs" / "d2.md").read_text())
    assert match, "docs/d2.md lost its d2-tsjnet-backbone snippet"
    config = tmp_path / "faster_rcnn_tsj.yaml"
    config.write_text(f'_BASE_: "{model_zoo.get_config_file(stock)}"\n{match.group(1)}')
    cfg = get_cfg()
    add_tsjnet_config(cfg)
    cfg.merge_from_file(str(config))
    cfg.merge_from_list([*SHRINK, "OUTPUT_DIR", str(tmp_path / "out"), *opts])
    return cfg


def fusion_grad_norms(model, batch) -> dict[str, float]:
    """Gradient norm on the fusion trunk from the task losses alone and the fusion losses alone."""
    fusion = next(m for m in model.modules() if isinstance(m, TSJNetBackbone)).fusion
    norms = {}
    with EventStorage(0):
        losses = model(batch)
    assert set(FUSION_LOSSES) <= set(losses), sorted(losses)
    for kind, keep in (
        ("task", lambda k: k not in FUSION_LOSSES),
        ("fusion", FUSION_LOSSES.__contains__),
    ):
        model.zero_grad()
        sum(v for k, v in losses.items() if keep(k)).backward(retain_graph=True)
        norms[kind] = sum(float(p.grad.norm()) for p in fusion.parameters() if p.grad is not None)
    return norms


def test_stock_yaml_config_trains_with_the_documented_lines(synthetic_root, tmp_path):
    cfg = stock_yaml_cfg(tmp_path)
    assert cfg.MODEL.META_ARCHITECTURE == "GeneralizedRCNN"  # the stock meta-architecture
    assert cfg.SOLVER.OPTIMIZER == "SGD" and cfg.MODEL.RESNETS.NORM == "FrozenBN"
    trainer = TSJTrainer(cfg)
    assert {g["name"] for g in trainer.optimizer.param_groups} == {"fusion", "detector"}
    model = trainer.model
    fusion = model.backbone.fusion
    before = [p.detach().clone() for p in fusion.parameters()]
    trainer.train()
    assert trainer.iter == ITERS
    assert any(not torch.equal(a, b) for a, b in zip(before, fusion.parameters()))
    history = [value for value, _ in trainer.storage.history("loss_fusion_int").values()]
    assert len(history) == ITERS and torch.isfinite(torch.tensor(history)).all()
    # tools/fuse.py takes the trained fusion network out of the wrapped model's checkpoint.
    extracted = build_model_from_checkpoint(tmp_path / "out" / "model_final.pth")
    for name, value in extracted.state_dict().items():
        torch.testing.assert_close(value, fusion.net.state_dict()[name], msg=name)
    batch = next(iter(trainer.build_train_loader(cfg)))
    assert batch[0]["image"].shape[0] == 4 and "ir" not in batch[0]
    norms = fusion_grad_norms(model, batch)
    assert norms["task"] > 0 and norms["fusion"] > 0, norms


def test_stock_semantic_segmentor_gets_fusion_in_front(synthetic_root, tmp_path):
    cfg = stock_yaml_cfg(
        tmp_path,
        "MODEL.SEM_SEG_HEAD.NUM_CLASSES", "4",  # the dataset's stuff classes
        "MODEL.SEM_SEG_HEAD.CONVS_DIM", "32",
        stock="Misc/semantic_R_50_FPN_1x.yaml",
    )  # fmt: skip
    assert cfg.MODEL.META_ARCHITECTURE == "SemanticSegmentor"
    model = TSJTrainer.build_model(cfg).train()
    batch = next(iter(TSJTrainer.build_train_loader(cfg)))
    norms = fusion_grad_norms(model, batch)
    assert norms["task"] > 0 and norms["fusion"] > 0, norms


def test_training_without_the_loss_hook_is_an_error(synthetic_root, tmp_path):
    cfg = stock_yaml_cfg(tmp_path)
    model = build_model(cfg).train()
    batch = next(iter(TSJTrainer.build_train_loader(cfg)))
    with EventStorage(0), pytest.raises(RuntimeError, match="add_fusion_losses"):
        model(batch)
    cfg = stock_yaml_cfg(tmp_path, "MODEL.TSJNET.FUSION_LOSS.WEIGHT", "0.0")
    with EventStorage(0):
        losses = build_model(cfg).train()(batch)
    assert not set(FUSION_LOSSES) & set(losses)


def test_three_value_pixel_mean_is_a_clear_error(tmp_path):
    cfg = stock_yaml_cfg(tmp_path)
    cfg.MODEL.PIXEL_MEAN = cfg.MODEL.PIXEL_MEAN[:3]
    cfg.MODEL.PIXEL_STD = cfg.MODEL.PIXEL_STD[:3]
    with pytest.raises(ValueError, match=r"PIXEL_MEAN and MODEL\.PIXEL_STD need 4 values"):
        build_model(cfg)


def test_wrapper_delegates_shape_and_padding_and_fuses_what_it_is_given(tmp_path):
    cfg = stock_yaml_cfg(tmp_path, "MODEL.TSJNET.FUSION_LOSS.WEIGHT", "0.0")
    backbone = build_model(cfg).backbone
    inner = backbone.inner
    assert backbone.output_shape() == inner.output_shape()
    assert backbone.size_divisibility == inner.size_divisibility == 32
    assert backbone.padding_constraints == inner.padding_constraints
    backbone.eval()
    # Undoing the normalisation must give the fusion network the visible image as RGB and the IR,
    # and the inner backbone the fused image back in BGR with the stock normalisation.
    mean, std = backbone.pixel_mean, backbone.pixel_std
    raw = torch.rand(2, 4, 64, 64, generator=torch.Generator().manual_seed(0)) * 255.0
    with torch.no_grad():
        features = backbone((raw - mean) / std)
        vis_rgb = raw[:, [2, 1, 0]] / 255.0
        fused = backbone.fusion(vis_rgb, raw[:, 3:] / 255.0)
        direct = backbone.inner((fused.rgb[:, [2, 1, 0]] * 255.0 - mean[:, :3]) / std[:, :3])
    for name, value in features.items():  # features reach ~600: rounding of the round trip
        torch.testing.assert_close(value, direct[name], rtol=1e-4, atol=1e-2, msg=name)


def test_mapper_stacks_visible_in_input_format_and_ir(synthetic_root, tmp_path):
    cfg = stock_yaml_cfg(tmp_path, "INPUT.MIN_SIZE_TRAIN", "(0,)", "INPUT.RANDOM_FLIP", "none")
    item = DatasetCatalog.get(TRAIN)[0]
    out = PairDatasetMapper(cfg, True)(dict(item))
    vis, ir = read_visible(item["file_name"]), read_ir(item["ir_file_name"])
    assert out["image"].dtype == torch.float32 and out["image"].shape == (4, *ir.shape)
    np.testing.assert_array_equal(out["image"][:3].numpy(), vis[..., ::-1].transpose(2, 0, 1))
    np.testing.assert_allclose(out["image"][3].numpy(), ir * 255.0, rtol=1e-6)


def _stock_state(cfg) -> dict[str, torch.Tensor]:
    stock = cfg.clone()
    stock.MODEL.BACKBONE.NAME = stock.MODEL.TSJNET.INNER_BACKBONE
    stock.MODEL.PIXEL_MEAN, stock.MODEL.PIXEL_STD = (
        stock.MODEL.PIXEL_MEAN[:3],
        stock.MODEL.PIXEL_STD[:3],
    )
    return {
        k: v + 1.0 if v.is_floating_point() else v
        for k, v in build_model(stock).state_dict().items()
    }


def test_stock_pth_and_model_zoo_pkl_weights_load_into_the_wrapped_model(tmp_path):
    cfg = stock_yaml_cfg(tmp_path)
    stock = _stock_state(cfg)
    key = "backbone.bottom_up.res2.0.conv1.weight"
    torch.save({"model": stock}, tmp_path / "stock.pth")
    with open(tmp_path / "stock.pkl", "wb") as f:
        pickle.dump({"model": {k: v.numpy() for k, v in stock.items()}, "__author__": "unit"}, f)
    for name in ("stock.pth", "stock.pkl"):
        model = build_model(cfg)
        TSJCheckpointer(model).load(str(tmp_path / name))
        torch.testing.assert_close(model.state_dict()["backbone.inner." + key[9:]], stock[key])
        head = "roi_heads.box_predictor.bbox_pred.weight"
        torch.testing.assert_close(model.state_dict()[head], stock[head])
    # detectron2's own checkpointer too (the backbone's load_state_dict pre-hook).
    model = build_model(cfg)
    DetectionCheckpointer(model).load(str(tmp_path / "stock.pth"))
    torch.testing.assert_close(model.state_dict()["backbone.inner." + key[9:]], stock[key])


def test_stock_weights_load_into_the_joint_models_detector(tmp_path):
    cfg = stock_yaml_cfg(tmp_path)
    stock = _stock_state(cfg)
    torch.save({"model": stock}, tmp_path / "stock.pth")
    joint = cfg.clone()
    joint.MODEL.META_ARCHITECTURE = "TSJNetJointModel"
    joint.MODEL.BACKBONE.NAME = joint.MODEL.TSJNET.INNER_BACKBONE
    joint.MODEL.PIXEL_MEAN, joint.MODEL.PIXEL_STD = (
        joint.MODEL.PIXEL_MEAN[:3],
        joint.MODEL.PIXEL_STD[:3],
    )
    joint.MODEL.TSJNET.SEGMENTOR.TYPE = ""
    joint.DATASETS.TRAIN = ()
    model = build_model(joint)
    TSJCheckpointer(model).load(str(tmp_path / "stock.pth"))
    state = model.state_dict()
    for key in ("backbone.bottom_up.stem.conv1.weight", "roi_heads.box_head.fc1.weight"):
        torch.testing.assert_close(state["detector." + key], stock[key])


def test_weights_that_match_nothing_stop_the_run(tmp_path):
    cfg = stock_yaml_cfg(tmp_path)
    torch.save({"model": {"encoder.conv.weight": torch.zeros(3)}}, tmp_path / "other.pth")
    with pytest.raises(ValueError, match=r"other.pth: none of its 1 weights matches the model"):
        TSJCheckpointer(build_model(cfg)).load(str(tmp_path / "other.pth"))


def test_add_tsjnet_config_changes_no_stock_default():
    stock, ours = get_cfg(), add_tsjnet_config(get_cfg())
    stock.merge_from_file(model_zoo.get_config_file(STOCK_YAML))
    ours.merge_from_file(model_zoo.get_config_file(STOCK_YAML))

    def leaves(node, prefix=""):
        for key, value in node.items():
            if isinstance(value, dict):
                yield from leaves(value, f"{prefix}{key}.")
            else:
                yield f"{prefix}{key}", value

    stock_leaves, our_leaves = dict(leaves(stock)), dict(leaves(ours))
    assert {k: our_leaves[k] for k in stock_leaves} == stock_leaves  # every stock default kept
    added = {k for k in our_leaves if k not in stock_leaves}
    assert {k.split(".")[0] + "." + k.split(".")[1] for k in added} == {
        "MODEL.TSJNET",
        "SCHEDULE.MODE",
        "SCHEDULE.RATIO",
        "SCHEDULE.MAX_NAN_STEPS",
        "SOLVER.OPTIMIZER",
        "SOLVER.LR_FACTORS",
        "SOLVER.AMP",
        "SOLVER.LOG_PERIOD",
    }
    assert ours.SOLVER.OPTIMIZER == "SGD" and ours.SOLVER.AMP.DTYPE == "float16"


def shrink_lazy(cfg, dataset_names: tuple[str, str]):
    """Test-only changes to the LazyConfig recipe: ResNet-18, narrow FPN/head, tiny images."""
    cfg.model.model.backbone.fusion = dict(_target_=FusionFrontEnd, arch="tiny")
    fpn = cfg.model.model.backbone.inner
    fpn.bottom_up.stages.depth = 18
    del fpn.bottom_up.stages.stride_in_1x1
    fpn.out_channels = 32
    fpn.top_block.in_channels = 512
    head = cfg.model.model.head
    head.input_shape = [ShapeSpec(channels=32)] * 5
    head.conv_dims = [32]
    for split, loader in zip(("train", "test"), (cfg.dataloader.train, cfg.dataloader.test)):
        loader.dataset.names = dataset_names[split == "test"]
        loader.mapper.augmentations = [
            dict(_target_=T.ResizeShortestEdge, short_edge_length=64, max_size=96)
        ]
        loader.num_workers = 0
    cfg.dataloader.train.total_batch_size = 2


def test_lazy_config_recipe_trains_with_detectron2s_conventions(synthetic_root):
    cfg = LazyConfig.load(str(STOCK_LAZY))
    assert cfg.model.model._target_.__name__ == "RetinaNet"
    shrink_lazy(cfg, (TRAIN, TEST))
    # tools/lazyconfig_train_net.py: instantiate model, optimizer (params from the model), loader,
    # then a SimpleTrainer with the config's LR schedule (stock warmup).
    model = instantiate(cfg.model)
    cfg.optimizer.params.model = model
    optimizer = instantiate(cfg.optimizer)
    loader = instantiate(cfg.dataloader.train)
    fusion = model.backbone.fusion
    before = [p.detach().clone() for p in fusion.parameters()]
    trainer = SimpleTrainer(model, loader, optimizer)
    trainer.register_hooks([hooks.LRScheduler(scheduler=instantiate(cfg.lr_multiplier))])
    trainer.train(0, ITERS)
    assert any(not torch.equal(a, b) for a, b in zip(before, fusion.parameters()))
    history = [value for value, _ in trainer.storage.history("loss_fusion_ssim").values()]
    assert len(history) == ITERS and torch.isfinite(torch.tensor(history)).all()
    norms = fusion_grad_norms(model, next(iter(loader)))
    assert norms["task"] > 0 and norms["fusion"] > 0, norms


def test_add_fusion_losses_is_idempotent(tmp_path):
    cfg = stock_yaml_cfg(tmp_path)
    model = add_fusion_losses(add_fusion_losses(build_model(cfg)))
    assert len(model._forward_hooks) == 1
