"""Neighbourhood attention: exactness against a naive loop, NATTEN, flex_attention; backward."""

import natten
import pytest
import torch

from tsjnet_plugin.fusion import attention
from tsjnet_plugin.fusion.attention import (
    NeighborhoodAttention2D,
    _flex_block_mask,
    neighborhood_attention_flex,
    neighborhood_attention_torch,
    resolve_backend,
    window_starts,
)


def naive_neighborhood_attention(q, k, v, kernel_size, rpb=None):
    """Loop over every query: clamped window, RPB at (key - query) + k - 1, softmax, sum."""
    batch, heads, height, width, dim = q.shape
    out = torch.zeros_like(q)
    r = kernel_size // 2
    for i in range(height):
        si = min(max(i - r, 0), height - kernel_size)
        for j in range(width):
            sj = min(max(j - r, 0), width - kernel_size)
            keys = k[:, :, si : si + kernel_size, sj : sj + kernel_size].reshape(
                batch, heads, -1, dim
            )
            vals = v[:, :, si : si + kernel_size, sj : sj + kernel_size].reshape(
                batch, heads, -1, dim
            )
            logits = torch.einsum("bhd,bhnd->bhn", q[:, :, i, j], keys)
            if rpb is not None:
                bias = torch.stack(
                    [
                        rpb[:, ki - i + kernel_size - 1, kj - j + kernel_size - 1]
                        for ki in range(si, si + kernel_size)
                        for kj in range(sj, sj + kernel_size)
                    ],
                    dim=-1,
                )
                logits = logits + bias
            out[:, :, i, j] = torch.einsum("bhn,bhnd->bhd", logits.softmax(-1), vals)
    return out


def random_qkv(batch=2, heads=2, height=9, width=11, dim=4, dtype=torch.float64, grad=False):
    return [
        torch.randn(batch, heads, height, width, dim, dtype=dtype, requires_grad=grad)
        for _ in range(3)
    ]


def test_window_starts_are_clamped():
    assert window_starts(8, 5).tolist() == [0, 0, 0, 1, 2, 3, 3, 3]
    with pytest.raises(ValueError, match="at least kernel_size=7"):
        window_starts(6, 7)


@pytest.mark.parametrize("kernel_size", [3, 5, 7])
def test_torch_path_matches_naive_loop_with_rpb(kernel_size):
    q, k, v = random_qkv(height=9, width=11)
    rpb = torch.randn(2, 2 * kernel_size - 1, 2 * kernel_size - 1, dtype=torch.float64)
    expected = naive_neighborhood_attention(q, k, v, kernel_size, rpb)
    torch.testing.assert_close(neighborhood_attention_torch(q, k, v, kernel_size, rpb), expected)


def test_torch_path_gradients_match_naive_loop():
    q, k, v = random_qkv(height=7, width=8, grad=True)
    rpb = torch.randn(2, 9, 9, dtype=torch.float64, requires_grad=True)
    weights = torch.randn(2, 2, 7, 8, 4, dtype=torch.float64)
    inputs = (q, k, v, rpb)
    fast = torch.autograd.grad(
        (neighborhood_attention_torch(q, k, v, 5, rpb) * weights).sum(), inputs
    )
    slow = torch.autograd.grad(
        (naive_neighborhood_attention(q, k, v, 5, rpb) * weights).sum(), inputs
    )
    for a, b in zip(fast, slow):
        torch.testing.assert_close(a, b)


def test_torch_path_matches_natten_cpu_forward():
    q, k, v = random_qkv(batch=1, heads=2, height=10, width=12, dim=8, dtype=torch.float32)
    ours = neighborhood_attention_torch(q, k, v, 5)
    to_natten = [t.permute(0, 2, 3, 1, 4).contiguous() for t in (q, k, v)]
    theirs = natten.na2d(*to_natten, kernel_size=5, scale=1.0).permute(0, 3, 1, 2, 4)
    assert (ours - theirs).abs().max().item() < 1e-5


def test_flex_path_matches_torch_path_with_rpb():
    q, k, v = random_qkv(batch=1, heads=2, height=8, width=9, dim=8, dtype=torch.float32)
    rpb = torch.randn(2, 5, 5)
    expected = neighborhood_attention_torch(q, k, v, 3, rpb)
    got = neighborhood_attention_flex(q, k, v, 3, rpb)
    assert (got - expected).abs().max().item() < 1e-5


def test_backend_resolution_and_errors():
    cpu, cuda = torch.device("cpu"), torch.device("cuda")
    assert resolve_backend("auto", cpu, has_rpb=True) == "torch"
    assert resolve_backend("auto", cuda, has_rpb=True) == "flex"
    assert resolve_backend("flex", cuda, has_rpb=True, needs_grad=True) == "flex"  # explicit
    assert resolve_backend("natten", cpu, has_rpb=False) == "natten"
    with pytest.raises(ValueError, match="relative position bias"):
        NeighborhoodAttention2D(16, 2, 3, rpb=True, backend="natten")
    with pytest.raises(ValueError, match="unknown neighbourhood-attention backend"):
        resolve_backend("cuda", cpu, has_rpb=False)
    with pytest.raises(ValueError, match="not divisible"):
        NeighborhoodAttention2D(10, 3)


def test_module_state_dict_matches_natten_014_names():
    attn = NeighborhoodAttention2D(64, 2, 7)
    shapes = {k: tuple(v.shape) for k, v in attn.state_dict().items()}
    assert shapes == {
        "qkv.weight": (192, 64),
        "qkv.bias": (192,),
        "rpb": (2, 13, 13),
        "proj.weight": (64, 64),
        "proj.bias": (64,),
    }


def test_module_natten_backend_matches_torch_backend_without_rpb():
    ours = NeighborhoodAttention2D(16, 2, 5, rpb=False, backend="torch")
    theirs = NeighborhoodAttention2D(16, 2, 5, rpb=False, backend="natten")
    theirs.load_state_dict(ours.state_dict())
    x = torch.randn(1, 9, 10, 16)
    with torch.no_grad():
        assert (ours(x) - theirs(x)).abs().max().item() < 1e-5


@pytest.mark.parametrize("shape", [(16, 20, 7), (30, 17, 5), (9, 40, 3), (64, 64, 7)])
def test_analytic_block_mask_covers_every_neighbourhood(shape):
    from torch.nn.attention.flex_attention import create_block_mask

    height, width, kernel_size = shape
    ours = _flex_block_mask(height, width, kernel_size, "cpu")
    length = height * width
    reference = create_block_mask(ours.mask_mod, None, None, length, length, device="cpu")
    ours_dense, reference_dense = ours.to_dense().bool(), reference.to_dense().bool()
    assert ours_dense.shape == reference_dense.shape
    assert not (reference_dense & ~ours_dense).any()  # no needed block is skipped
    assert ours_dense.sum() <= 1.5 * reference_dense.sum()  # and few extra ones are visited


def test_compiled_flex_path_matches_torch_path():
    """The compiled kernel skips blocks outside the block mask, unlike eager flex."""
    from torch.nn.attention.flex_attention import flex_attention

    q, k, v = random_qkv(batch=1, heads=2, height=16, width=20, dim=16, dtype=torch.float32)
    rpb = torch.randn(2, 13, 13)
    block_mask = _flex_block_mask(16, 20, 7, "cpu")

    def score_mod(score, b, h, q_idx, kv_idx):
        dr = (kv_idx // 20 - q_idx // 20 + 6).clamp(0, 12)
        dc = (kv_idx % 20 - q_idx % 20 + 6).clamp(0, 12)
        return score + rpb[h, dr, dc]

    compiled = torch.compile(flex_attention, dynamic=False)
    flat = [t.reshape(1, 2, 320, 16) for t in (q, k, v)]
    out = compiled(*flat, score_mod=score_mod, block_mask=block_mask, scale=1.0)
    expected = neighborhood_attention_torch(q, k, v, 7, rpb)
    assert (out.reshape(expected.shape) - expected).abs().max().item() < 1e-5


@pytest.mark.parametrize(
    ("device", "has_rpb", "head_dim", "needs_grad", "natten_importable", "expected"),
    [
        ("cpu", True, 32, True, True, "torch"),
        ("cpu", False, 32, False, True, "torch"),
        ("cuda", True, 32, True, True, "torch"),  # training: the torch path trains faster
        ("cuda", True, 32, False, True, "flex"),  # inference: flex is faster
        ("cuda", True, 8, False, True, "torch"),  # heads too narrow for compiled flex
        ("cuda", False, 32, True, True, "natten"),  # no RPB and natten importable
        ("cuda", False, 32, False, True, "natten"),
        ("cuda", False, 32, True, False, "torch"),  # no natten: by mode
        ("cuda", False, 32, False, False, "flex"),
        ("cuda", False, 8, False, False, "torch"),
    ],
)
def test_auto_chooses_by_device_mode_rpb_and_head_width(
    monkeypatch, device, has_rpb, head_dim, needs_grad, natten_importable, expected
):
    monkeypatch.setattr(attention, "natten_available", lambda: natten_importable)
    chosen = resolve_backend("auto", torch.device(device), has_rpb, head_dim, needs_grad)
    assert chosen == expected


def test_dispatch_tells_the_chooser_whether_gradients_are_recorded(monkeypatch):
    calls = []

    def spy(*args):
        calls.append(args[-1])
        return "torch"

    layer = NeighborhoodAttention2D(16, 1, 3)
    monkeypatch.setattr(attention, "resolve_backend", spy)
    x = torch.randn(1, 5, 5, 16)
    layer(x)
    with torch.no_grad():
        layer(x)
    layer.requires_grad_(False)
    layer(x)
    layer(x.requires_grad_())
    assert calls == [True, False, False, True]
