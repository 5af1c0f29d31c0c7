"""TSJNet architecture: official parameter counts and key layout, shapes, padding, input errors."""

import pytest
import torch

from tsjnet_plugin import build_fusion_model
from tsjnet_plugin.fusion.official import TSJNet, pad_to

# Hand-computed from the official layer definitions (net.py of the official TSJNet code).
OFFICIAL_PARAMS = {
    "encoder": 22_739_465,
    "decoder": 1_946_248,
    "base_fuse": 20_307_494,
    "detail_fuse": 139_848,
}


def count(module: torch.nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


@pytest.fixture(scope="module")
def official() -> TSJNet:
    return build_fusion_model("official").eval()


def test_official_parameter_counts(official):
    for part, expected in OFFICIAL_PARAMS.items():
        assert count(getattr(official, part)) == expected, part
    assert count(official) == 45_133_055


def test_official_key_layout(official):
    enc = {k: tuple(v.shape) for k, v in official.encoder.state_dict().items()}
    dec = {k: tuple(v.shape) for k, v in official.decoder.state_dict().items()}
    base = {k: tuple(v.shape) for k, v in official.base_fuse.state_dict().items()}
    detail = {k: tuple(v.shape) for k, v in official.detail_fuse.state_dict().items()}
    expected_encoder = {
        "patch_embed.proj.weight": (3, 1, 3, 3),
        "ResNest.deep_stem.0.weight": (64, 3, 3, 3),
        "ResNest.deep_stem.7.running_var": (128,),
        "ResNest.layer1.0.conv2.radix_conv.0.weight": (256, 64, 3, 3),
        "ResNest.layer1.0.conv2.fc1.0.weight": (64, 128, 1, 1),
        "ResNest.layer1.0.conv2.fc2.1.weight": (256,),
        "ResNest.layer1.0.shortcut.1.weight": (512, 128, 1, 1),
        "ResNest.layer1.1.conv3.0.weight": (512, 128, 1, 1),
        "conv1.0.weight": (256, 512, 3, 3),
        "conv3.0.bias": (64,),
        "baseFeature.norm1.body.weight": (64,),
        "baseFeature.attn.patch_embed.proj.1.weight": (64, 32, 3, 3),
        "baseFeature.attn.patch_embed.norm.bias": (64,),
        "baseFeature.attn.levels.0.blocks.2.attn.rpb": (2, 13, 13),
        "baseFeature.attn.levels.3.blocks.4.attn.qkv.weight": (1536, 512),
        "baseFeature.attn.levels.3.blocks.4.mlp.fc1.weight": (1536, 512),
        "baseFeature.attn.levels.2.downsample.reduction.weight": (512, 256, 3, 3),
        "baseFeature.attn.levels.2.downsample.norm.weight": (512,),
        "baseFeature.attn.avgpool.weight": (64, 64, 1, 1),
        "baseFeature.attn.conv1.0.weight": (128, 512, 3, 3),
        "baseFeature.attn.transposed_conv3.weight": (64, 64, 2, 2),
        "detailFeature.coa.conv.0.weight": (64, 64, 1, 1),
        "detailFeature.spa.conv.7.weight": (1, 8, 1, 1),
        "detailFeature.convp1.1.running_mean": (64,),
        "detailFeature.conv1.1.weight": (64, 64, 1, 1),
        "detailFeature.conv_transpose.weight": (64, 64, 2, 2),
        "detailFeature.fc1.weight": (32, 64),
    }
    for key, shape in expected_encoder.items():
        assert enc.get(key) == shape, key
    assert "ResNest.layer1.1.shortcut.1.weight" not in enc  # identity shortcut
    assert "baseFeature.attn.levels.3.downsample.reduction.weight" not in enc
    assert dec["ResNest.deep_stem.0.weight"] == (64, 32, 3, 3)
    assert dec["reduce_channel.weight"] == (32, 128, 1, 1)
    assert dec["output.0.weight"] == (256, 512, 3, 3)
    assert dec["output.2.weight"] == (1, 256, 3, 3)
    assert dec["spa.conv.0.weight"] == (1, 16, 1, 1)
    assert base == {
        k[len("baseFeature.") :]: v for k, v in enc.items() if k.startswith("baseFeature.")
    }
    assert detail == {
        k[len("detailFeature.") :]: v for k, v in enc.items() if k.startswith("detailFeature.")
    }


def test_official_shape_trace_through_every_stage(official):
    """1x1x96x128 pair: padded to 224x224 (kernel 7 at 1/32), every stage as in reference 1.9."""
    seen = {}
    stages = {
        "encoder.patch_embed": official.encoder.patch_embed,
        "encoder.trunk": official.encoder.ResNest,
        "encoder.shallow": official.encoder.conv3,
        "nat.tokens": official.encoder.baseFeature.attn.patch_embed,
        "nat.level0": official.encoder.baseFeature.attn.levels[0],
        "nat.level3": official.encoder.baseFeature.attn.levels[3],
        "nat.out": official.encoder.baseFeature.attn,
        "encoder.base": official.encoder.baseFeature,
        "encoder.detail": official.encoder.detailFeature,
        "base_fuse": official.base_fuse,
        "detail_fuse": official.detail_fuse,
        "decoder.reduce": official.decoder.reduce_channel,
        "decoder.trunk": official.decoder.ResNest,
        "decoder.output": official.decoder.output,
    }

    def recorder(name):
        def hook(module, inputs, output):
            seen.setdefault(name, tuple(output.shape))

        return hook

    hooks = [module.register_forward_hook(recorder(name)) for name, module in stages.items()]
    with torch.no_grad():
        fused = official(torch.rand(1, 1, 96, 128), torch.rand(1, 1, 96, 128))
    for hook in hooks:
        hook.remove()
    assert official.padded_size(96, 128) == (224, 224)
    assert seen == {
        "encoder.patch_embed": (1, 3, 224, 224),
        "encoder.trunk": (1, 512, 224, 224),
        "encoder.shallow": (1, 64, 224, 224),
        "nat.tokens": (1, 56, 56, 64),
        "nat.level0": (1, 28, 28, 128),
        "nat.level3": (1, 7, 7, 512),
        "nat.out": (1, 64, 224, 224),
        "encoder.base": (1, 64, 224, 224),
        "encoder.detail": (1, 64, 224, 224),
        "base_fuse": (1, 64, 224, 224),
        "detail_fuse": (1, 64, 224, 224),
        "decoder.reduce": (1, 32, 224, 224),
        "decoder.trunk": (1, 512, 224, 224),
        "decoder.output": (1, 1, 224, 224),
    }
    assert fused.shape == (1, 1, 96, 128)
    assert 0 < fused.min() and fused.max() < 1


@pytest.mark.parametrize("size", [(96, 96), (50, 70), (100, 130)])
def test_any_size_batch_is_padded_and_cropped(size):
    model = build_fusion_model("tiny").eval()
    ir, vis = torch.rand(2, 1, *size), torch.rand(2, 1, *size)
    with torch.no_grad():
        out = model(ir, vis, with_aux=True)
    assert out.fused.shape == (2, 1, *size)
    assert out.attention.shape == (2, 8, *size)
    assert out.recon_vis.shape == out.recon_ir.shape == (2, 1, *size)
    padded = model.padded_size(*size)
    assert all(p % 32 == 0 and p >= 96 and p >= s for p, s in zip(padded, size))


def test_padding_is_a_reflection_even_beyond_one_side():
    x = torch.arange(3.0).view(1, 1, 1, 3)
    padded = pad_to(x, 1, 9, "reflect")
    assert padded.flatten().tolist() == [0, 1, 2, 1, 0, 1, 2, 1, 0]


def test_batch_items_are_independent_in_eval_mode():
    model = build_fusion_model("tiny").eval()
    ir, vis = torch.rand(2, 1, 64, 64), torch.rand(2, 1, 64, 64)
    with torch.no_grad():
        both = model(ir, vis)
        first = model(ir[:1], vis[:1])
    torch.testing.assert_close(both[:1], first, atol=1e-5, rtol=1e-4)


def test_bad_inputs_raise_clear_errors():
    model = build_fusion_model("tiny")
    with pytest.raises(ValueError, match=r"ir must be a \[B, 1, H, W\]"):
        model(torch.rand(1, 3, 32, 32), torch.rand(1, 1, 32, 32))
    with pytest.raises(ValueError, match="differ in shape"):
        model(torch.rand(1, 1, 32, 32), torch.rand(1, 1, 32, 40))
    with pytest.raises(TypeError, match="float tensor"):
        model(torch.zeros(1, 1, 32, 32, dtype=torch.uint8), torch.rand(1, 1, 32, 32))
    with pytest.raises(ValueError, match="unknown fusion arch"):
        build_fusion_model("huge")
    with pytest.raises(ValueError, match="unknown TSJNet option"):
        build_fusion_model("tiny", kernel=3)


def test_unused_official_members_are_frozen():
    model = build_fusion_model("tiny")
    frozen = sorted(n for n, p in model.named_parameters() if not p.requires_grad)
    assert frozen
    assert all(
        any(tag in n for tag in (".attn.norm.", ".attn.avgpool.", ".attn.conv_head.", ".spa."))
        for n in frozen
    )
    assert not any(n.startswith("decoder.spa") for n in frozen)
