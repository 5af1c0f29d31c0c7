"""2-D neighbourhood attention with clamped border windows and relative position bias.

Each query pixel attends to a ``k x k`` window of keys. Near the borders the window is shifted
(clamped) to stay inside the map instead of being zero-padded, so every query sees exactly
``k * k`` keys; this is the semantics of NATTEN (Hassani et al., CVPR 2023). The optional relative
position bias (RPB) has shape ``[heads, 2k-1, 2k-1]`` and is indexed by
``(key - query) + (k - 1)`` in each axis, as in NATTEN <= 0.16, which the official TSJNet weights
were trained with. NATTEN >= 0.20 dropped RPB, so three backends exist:

* ``"torch"``: an exact gather-based implementation in plain torch. Works on every device,
  supports backward, and is the CPU default (NATTEN's CPU path has no backward).
* ``"natten"``: ``natten.na2d`` kernels; only without RPB (NATTEN >= 0.20 has none).
* ``"flex"``: ``torch.nn.attention.flex_attention`` with a neighbourhood block mask and a
  ``score_mod`` that adds the RPB; the fast CUDA path for models with RPB (compiled on CUDA).

``"auto"`` chooses per call (:func:`resolve_backend`), from measurements of the official model on
an H200 (docs/fusion.md):

* not on CUDA: ``torch``;
* CUDA, no RPB and ``natten`` importable: ``natten``;
* CUDA, gradients needed (training): ``torch``, which trained 1.7x faster than ``flex``;
* CUDA, no gradients (inference): ``flex`` (1.15-1.4x faster than ``torch``), except for heads
  narrower than :data:`FLEX_MIN_HEAD_DIM` channels, which the compiled kernels do not support
  (``torch`` then).
"""

from __future__ import annotations

import functools
import importlib.util
from typing import Literal

import torch
from torch import nn

__all__ = [
    "BACKENDS",
    "Backend",
    "NeighborhoodAttention2D",
    "natten_available",
    "neighborhood_attention",
    "neighborhood_attention_flex",
    "neighborhood_attention_natten",
    "neighborhood_attention_torch",
    "resolve_backend",
    "window_starts",
]

Backend = Literal["auto", "torch", "natten", "flex"]
BACKENDS = ("auto", "torch", "natten", "flex")


def natten_available() -> bool:
    """Whether the ``natten`` package can be imported."""
    return importlib.util.find_spec("natten") is not None


def window_starts(
    length: int, kernel_size: int, device: torch.device | None = None
) -> torch.Tensor:
    """First key index of each query's clamped window along one axis.

    Returns:
        ``[length]`` int64, ``clamp(i - k // 2, 0, length - k)``.
    """
    if length < kernel_size:
        raise ValueError(
            f"neighbourhood attention needs maps of at least kernel_size={kernel_size} per side, "
            f"got a side of {length}; pad the input (the fusion network does this for you)"
        )
    index = torch.arange(length, device=device)
    return (index - kernel_size // 2).clamp(0, length - kernel_size)


def _window_indices(
    length: int, kernel_size: int, device: torch.device
) -> tuple[torch.Tensor, torch.Tensor]:
    """Key indices ``[length, k]`` of each query's window and their RPB indices ``[length, k]``."""
    keys = window_starts(length, kernel_size, device)[:, None] + torch.arange(
        kernel_size, device=device
    )
    rel = keys - torch.arange(length, device=device)[:, None] + (kernel_size - 1)
    return keys, rel


def neighborhood_attention_torch(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    kernel_size: int,
    rpb: torch.Tensor | None = None,
) -> torch.Tensor:
    """Exact neighbourhood attention in plain torch.

    Args:
        q, k, v: ``[B, heads, H, W, d]``; ``q`` already multiplied by the softmax scale.
        kernel_size: odd window size ``k``; ``H, W >= k``.
        rpb: optional ``[heads, 2k-1, 2k-1]`` relative position bias.

    Returns:
        ``[B, heads, H, W, d]``.
    """
    batch, heads, height, width, dim = q.shape
    rows, rel_rows = _window_indices(height, kernel_size, q.device)
    cols, rel_cols = _window_indices(width, kernel_size, q.device)
    window = kernel_size * kernel_size

    def gather(t: torch.Tensor) -> torch.Tensor:
        t = t[:, :, rows]  # [B, h, H, k, W, d]
        t = t[:, :, :, :, cols]  # [B, h, H, k, W, k, d]
        return t.permute(0, 1, 2, 4, 3, 5, 6).reshape(batch, heads, height, width, window, dim)

    logits = (q.unsqueeze(-2) @ gather(k).transpose(-1, -2)).squeeze(-2)  # [B, h, H, W, k*k]
    if rpb is not None:
        bias = rpb[:, rel_rows[:, None, :, None], rel_cols[None, :, None, :]]  # [h, H, W, k, k]
        logits = logits + bias.reshape(heads, height, width, window).to(logits.dtype)
    attn = logits.softmax(dim=-1)
    return (attn.unsqueeze(-2) @ gather(v)).squeeze(-2)


def neighborhood_attention_natten(
    q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, kernel_size: int
) -> torch.Tensor:
    """Neighbourhood attention through ``natten.na2d`` (no RPB); same layout as the torch path."""
    import natten

    def to_natten(t: torch.Tensor) -> torch.Tensor:
        return t.permute(0, 2, 3, 1, 4).contiguous()  # [B, H, W, heads, d]

    out = natten.na2d(to_natten(q), to_natten(k), to_natten(v), kernel_size=kernel_size, scale=1.0)
    return out.permute(0, 3, 1, 2, 4)


FLEX_BLOCK = 128  # flex_attention's default sparse block size (tokens)
FLEX_MIN_HEAD_DIM = 16  # compiled flex_attention kernels need head_dim >= 16
RECOMPILE_LIMIT = 64  # one compiled graph per NAT level, batch size and grad mode


def _neighborhood_kv_blocks(height: int, width: int, kernel_size: int, block: int = FLEX_BLOCK):
    """Key blocks each query block of a flattened ``height x width`` map can attend to.

    Rows are flattened row-major; the clamped windows of the query rows ``r0..r1`` of one block
    cover the key rows ``start(r0) .. start(r1) + k - 1`` (window starts are non-decreasing), so
    the key blocks form one contiguous range. Computed in O(L / block), unlike
    ``create_block_mask``, which evaluates the mask on all ``L x L`` pairs.

    Returns:
        ``(kv_num_blocks [1, 1, Q], kv_indices [1, 1, Q, K])`` int32 for ``BlockMask.from_kv_blocks``,
        with ``Q = K = ceil(height * width / block)``.
    """
    length = height * width
    num_blocks = -(-length // block)
    starts = window_starts(height, kernel_size)
    first_token = torch.arange(num_blocks) * block
    last_token = torch.clamp(first_token + block, max=length) - 1
    first_key = starts[first_token // width] * width
    last_key = (starts[last_token // width] + kernel_size) * width - 1
    lo, hi = first_key // block, last_key // block
    counts = (hi - lo + 1).to(torch.int32)
    indices = lo[:, None] + torch.arange(num_blocks)[None, :]
    indices = torch.where(indices <= hi[:, None], indices, torch.zeros_like(indices))
    return counts[None, None], indices.to(torch.int32)[None, None]


@functools.lru_cache(maxsize=32)
def _flex_block_mask(height: int, width: int, kernel_size: int, device: str):
    from torch.nn.attention.flex_attention import BlockMask

    row_start = window_starts(height, kernel_size, torch.device(device))
    col_start = window_starts(width, kernel_size, torch.device(device))

    def mask_mod(b, h, q_idx, kv_idx):
        qr, qc = q_idx // width, q_idx % width
        kr, kc = kv_idx // width, kv_idx % width
        in_rows = (kr >= row_start[qr]) & (kr < row_start[qr] + kernel_size)
        in_cols = (kc >= col_start[qc]) & (kc < col_start[qc] + kernel_size)
        return in_rows & in_cols

    counts, indices = _neighborhood_kv_blocks(height, width, kernel_size)
    length = height * width
    return BlockMask.from_kv_blocks(
        counts.to(device),
        indices.to(device),
        BLOCK_SIZE=FLEX_BLOCK,
        mask_mod=mask_mod,
        seq_lengths=(length, length),
    )


@functools.lru_cache(maxsize=1)
def _compiled_flex_attention():
    from torch.nn.attention.flex_attention import flex_attention

    # Each NAT level, batch size and grad mode is its own graph; past dynamo's default limit (8)
    # torch would silently run the unfused eager version, which materialises all L x L scores.
    torch._dynamo.config.recompile_limit = max(
        torch._dynamo.config.recompile_limit, RECOMPILE_LIMIT
    )
    return torch.compile(flex_attention, dynamic=False)


def neighborhood_attention_flex(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    kernel_size: int,
    rpb: torch.Tensor | None = None,
) -> torch.Tensor:
    """Neighbourhood attention through torch ``flex_attention`` (compiled on CUDA).

    Same arguments and result as :func:`neighborhood_attention_torch`.
    """
    from torch.nn.attention.flex_attention import flex_attention

    batch, heads, height, width, dim = q.shape
    block_mask = _flex_block_mask(height, width, kernel_size, str(q.device))
    score_mod = None
    if rpb is not None:
        span = 2 * kernel_size - 1

        def score_mod(score, b, h, q_idx, kv_idx):
            dr = (kv_idx // width - q_idx // width + kernel_size - 1).clamp(0, span - 1)
            dc = (kv_idx % width - q_idx % width + kernel_size - 1).clamp(0, span - 1)
            return score + rpb[h, dr, dc]

    attend = _compiled_flex_attention() if q.is_cuda else flex_attention
    flat = [t.reshape(batch, heads, height * width, dim) for t in (q, k, v)]
    out = attend(*flat, score_mod=score_mod, block_mask=block_mask, scale=1.0)
    return out.reshape(batch, heads, height, width, dim)


def resolve_backend(
    backend: Backend,
    device: torch.device,
    has_rpb: bool,
    head_dim: int = FLEX_MIN_HEAD_DIM,
    needs_grad: bool = False,
) -> str:
    """Concrete backend for ``backend`` (see the module docstring for the ``auto`` rule).

    Args:
        backend: the requested backend; anything but ``auto`` is returned unchanged.
        device: where the attention runs.
        has_rpb: whether a relative position bias is applied.
        head_dim: channels per head.
        needs_grad: whether the call records gradients (training).
    """
    if backend not in BACKENDS:
        raise ValueError(
            f"unknown neighbourhood-attention backend {backend!r}; choose from {BACKENDS}"
        )
    if backend == "natten" and has_rpb:
        raise ValueError(
            "backend='natten' cannot apply a relative position bias (NATTEN >= 0.20 has none); "
            "use 'flex' or 'torch', or build the model with rpb=False"
        )
    if backend != "auto":
        return backend
    if device.type != "cuda":
        return "torch"
    if not has_rpb and natten_available():
        return "natten"
    if needs_grad or head_dim < FLEX_MIN_HEAD_DIM:
        return "torch"
    return "flex"


def neighborhood_attention(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    kernel_size: int,
    rpb: torch.Tensor | None = None,
    backend: Backend = "auto",
) -> torch.Tensor:
    """Dispatch to a backend; arguments as in :func:`neighborhood_attention_torch`."""
    inputs = (q, k, v) if rpb is None else (q, k, v, rpb)
    needs_grad = torch.is_grad_enabled() and any(t.requires_grad for t in inputs)
    chosen = resolve_backend(backend, q.device, rpb is not None, q.shape[-1], needs_grad)
    if chosen == "natten":
        return neighborhood_attention_natten(q, k, v, kernel_size)
    if chosen == "flex":
        return neighborhood_attention_flex(q, k, v, kernel_size, rpb)
    return neighborhood_attention_torch(q, k, v, kernel_size, rpb)


class NeighborhoodAttention2D(nn.Module):
    """Multi-head 2-D neighbourhood attention, channels-last, state-dict compatible with NATTEN 0.14.

    Parameters are ``qkv`` (Linear dim -> 3 dim), ``rpb`` (``[heads, 2k-1, 2k-1]``, optional) and
    ``proj`` (Linear dim -> dim), the names used by the official TSJNet checkpoints.

    Args:
        dim: channels ``C``; divisible by ``num_heads``.
        num_heads: attention heads.
        kernel_size: odd window size.
        qkv_bias: bias on the qkv projection.
        rpb: learn a relative position bias.
        attn_drop: dropout on the attention weights (torch backend only; official value 0).
        proj_drop: dropout after the output projection.
        backend: see the module docstring.
    """

    def __init__(
        self,
        dim: int,
        num_heads: int,
        kernel_size: int = 7,
        qkv_bias: bool = True,
        rpb: bool = True,
        attn_drop: float = 0.0,
        proj_drop: float = 0.0,
        backend: Backend = "auto",
    ) -> None:
        super().__init__()
        if dim % num_heads:
            raise ValueError(f"dim={dim} is not divisible by num_heads={num_heads}")
        if kernel_size % 2 == 0 or kernel_size < 1:
            raise ValueError(f"kernel_size must be odd and positive, got {kernel_size}")
        if attn_drop:
            raise ValueError("attn_drop > 0 is not supported (the official model uses 0)")
        resolve_backend(backend, torch.device("cpu"), rpb)
        self.num_heads = num_heads
        self.head_dim = dim // num_heads
        self.scale = self.head_dim**-0.5
        self.kernel_size = kernel_size
        self.backend: Backend = backend
        self.qkv = nn.Linear(dim, dim * 3, bias=qkv_bias)
        if rpb:
            span = 2 * kernel_size - 1
            self.rpb = nn.Parameter(torch.zeros(num_heads, span, span))
            nn.init.trunc_normal_(self.rpb, std=0.02, a=-2.0, b=2.0)
        else:
            self.register_parameter("rpb", None)
        self.proj = nn.Linear(dim, dim)
        self.proj_drop = nn.Dropout(proj_drop)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``[B, H, W, C]`` -> ``[B, H, W, C]``; ``H, W >= kernel_size``."""
        batch, height, width, channels = x.shape
        qkv = self.qkv(x).reshape(batch, height, width, 3, self.num_heads, self.head_dim)
        q, k, v = qkv.permute(3, 0, 4, 1, 2, 5).unbind(0)  # each [B, heads, H, W, d]
        out = neighborhood_attention(q * self.scale, k, v, self.kernel_size, self.rpb, self.backend)
        out = out.permute(0, 2, 3, 1, 4).reshape(batch, height, width, channels)
        return self.proj_drop(self.proj(out))
