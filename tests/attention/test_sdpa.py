"""scaled_dot_product_attention: fused / eager / chunked paths against torch and a float64 loop.

Notation: B batch, H query heads, Hkv key/value heads, Lq/Lk query/key length, D head dim.
"""

import math

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from attnkit.attention import masks
from attnkit.attention import sdpa as sdpa_module
from attnkit.attention.sdpa import scaled_dot_product_attention as sdpa

PATHS = ("fused", "eager", "chunked")
F64 = {"rtol": 1e-10, "atol": 1e-10}
F32 = {"rtol": 1e-5, "atol": 1e-5}


# --------------------------------------------------------------------------------- references


def _run(path, q, k, v, mask=None, *, chunk_size=2, **kw):
    """One call on a named path; returns ``(out, weights or None)``."""
    if path == "fused":
        out, w = sdpa(q, k, v, mask, **kw)
        assert w is None
    elif path == "eager":
        out, w = sdpa(q, k, v, mask, return_weights=True, **kw)
        assert w is not None
    else:
        out, w = sdpa(q, k, v, mask, chunk_size=chunk_size, **kw)
        assert w is None
    return out, w


def _visible(B, H, Lq, Lk, mask=None, causal=False):
    """``(B, H, Lq, Lk)`` bool: which key each query may see; the causal rule as a loop."""
    allowed = torch.ones(B, H, Lq, Lk, dtype=torch.bool)
    if mask is not None:
        allowed = allowed & mask
    if causal:
        c = torch.zeros(Lq, Lk, dtype=torch.bool)
        for i in range(Lq):
            for j in range(Lk):
                c[i, j] = j <= i + (Lk - Lq)  # bottom-right alignment
        allowed = allowed & c
    return allowed


def _naive(q, k, v, mask=None, *, causal=False, scale=None):
    """float64 softmax(QK^T)V with repeated K/V heads; rows with no key -> 0 (differentiable)."""
    q, k, v = q.double(), k.double(), v.double()
    B, H, Lq, D = q.shape
    Hkv, Lk = k.shape[1], k.shape[2]
    k = k.repeat_interleave(H // Hkv, dim=1)  # (B, H, Lk, D)
    v = v.repeat_interleave(H // Hkv, dim=1)  # (B, H, Lk, Dv)
    scale = 1.0 / math.sqrt(D) if scale is None else scale
    allowed = _visible(B, H, Lq, Lk, mask, causal)
    has_key = allowed.any(dim=-1, keepdim=True)
    s = (q @ k.transpose(-2, -1)) * scale  # (B, H, Lq, Lk)
    s = s.masked_fill(~allowed, float("-inf")).masked_fill(~has_key, 0.0)
    w = torch.softmax(s, dim=-1) * allowed  # empty rows become exactly 0
    return w @ v, w


def _torch_ref(q, k, v, mask=None, *, causal=False, scale=None):
    """torch's SDPA with an explicit bottom-right mask and repeated K/V; plus the valid rows."""
    B, H, Lq, _ = q.shape
    Hkv, Lk = k.shape[1], k.shape[2]
    allowed = _visible(B, H, Lq, Lk, mask, causal)
    kr, vr = k.repeat_interleave(H // Hkv, dim=1), v.repeat_interleave(H // Hkv, dim=1)
    out = F.scaled_dot_product_attention(q, kr, vr, attn_mask=allowed, scale=scale)
    return out, allowed.any(dim=-1)  # (B, H, Lq, Dv), (B, H, Lq)


def _qkv(B, H, Hkv, Lq, Lk, D, Dv=None, dtype=torch.float32, requires_grad=False, seed=0):
    g = torch.Generator().manual_seed(seed)
    q = torch.randn(B, H, Lq, D, generator=g, dtype=dtype)
    k = torch.randn(B, Hkv, Lk, D, generator=g, dtype=dtype)
    v = torch.randn(B, Hkv, Lk, Dv or D, generator=g, dtype=dtype)
    return tuple(t.requires_grad_(requires_grad) for t in (q, k, v))


def _pad(lengths, Lk):
    return masks.padding_mask(lengths, Lk)[:, None, None, :]  # (B, 1, 1, Lk)


def _window(q_len, k_len, window, causal):
    return masks.sliding_window_mask(q_len, k_len, window=window, causal=causal)  # (Lq, Lk)


def _random_mask(shape, keep=0.7, seed=1):
    return torch.rand(shape, generator=torch.Generator().manual_seed(seed)) < keep


# name -> (B, H, Hkv, Lq, Lk, D, Dv, mask builder, causal, scale)
CASES = {
    "plain": (2, 2, 2, 5, 7, 4, 4, None, False, None),
    "padding": (2, 2, 2, 4, 6, 4, 4, lambda: _pad([6, 3], 6), False, None),
    "causal_square": (2, 2, 2, 6, 6, 4, 4, None, True, None),
    "causal_lq_lt_lk": (1, 2, 2, 3, 7, 4, 4, None, True, None),
    "causal_lq_gt_lk": (1, 2, 2, 7, 3, 4, 4, None, True, None),
    "causal_one_query": (2, 2, 2, 1, 5, 4, 4, None, True, None),
    "causal_padding": (2, 2, 2, 5, 5, 4, 4, lambda: _pad([5, 2], 5), True, None),
    "window": (1, 2, 2, 6, 6, 4, 4, lambda: masks.sliding_window_mask(6, window=2), False, None),
    "window_two_sided": (1, 3, 3, 4, 7, 4, 4, lambda: _window(4, 7, 2, False), False, None),
    "window_causal_lq_gt_lk": (1, 2, 2, 5, 3, 4, 4, lambda: _window(5, 3, 2, True), True, None),
    "gqa_causal": (2, 4, 2, 5, 5, 4, 4, None, True, None),
    "gqa_plain": (1, 6, 2, 3, 4, 4, 4, None, False, None),
    "gqa_padding": (2, 6, 3, 4, 6, 4, 4, lambda: _pad([4, 6], 6), False, None),
    "mqa_causal_chunk": (1, 3, 1, 2, 6, 4, 4, None, True, None),
    "per_head_mask": (2, 2, 2, 3, 4, 4, 4, lambda: _random_mask((2, 2, 3, 4)), False, None),
    "custom_scale": (2, 2, 2, 4, 5, 4, 4, None, False, 0.37),
    "custom_scale_causal_mask": (2, 2, 1, 4, 5, 4, 4, lambda: _pad([5, 4], 5), True, 1.9),
    "value_dim": (2, 2, 2, 3, 5, 4, 6, lambda: _pad([2, 5], 5), False, None),
    "value_dim_causal": (1, 2, 1, 5, 6, 4, 6, None, True, None),
    "value_dim_causal_lq_gt_lk": (1, 2, 2, 6, 4, 3, 2, None, True, None),
    "empty_keys": (2, 2, 2, 3, 0, 4, 5, None, False, None),
    "empty_keys_causal": (1, 4, 2, 3, 0, 4, 4, None, True, None),
}


def _case(name, dtype, requires_grad=False):
    B, H, Hkv, Lq, Lk, D, Dv, make_mask, causal, scale = CASES[name]
    q, k, v = _qkv(B, H, Hkv, Lq, Lk, D, Dv, dtype=dtype, requires_grad=requires_grad)
    mask = None if make_mask is None else make_mask()
    return q, k, v, mask, {"causal": causal, "scale": scale}


# ------------------------------------------------------------------------ reference forward


@pytest.mark.parametrize("name", list(CASES))
@pytest.mark.parametrize("path", PATHS)
def test_forward_matches_references(path, name):
    q, k, v, mask, kw = _case(name, torch.float32)
    out, w = _run(path, q, k, v, mask, chunk_size=3, **kw)
    want, want_w = _naive(q, k, v, mask, **kw)
    assert out.dtype == torch.float32 and out.shape == want.shape
    torch.testing.assert_close(out.double(), want, **F32)
    if w is not None:
        assert w.shape == want_w.shape
        torch.testing.assert_close(w.double(), want_w, **F32)
    # torch's own kernel, on the rows where it is defined (it gives NaN for rows with no key)
    if k.shape[2] > 0:
        ref, valid = _torch_ref(q, k, v, mask, **kw)
        torch.testing.assert_close(out[valid], ref[valid], **F32)
        assert torch.equal(out[~valid], torch.zeros_like(out[~valid]))


@pytest.mark.parametrize("name", list(CASES))
@pytest.mark.parametrize("path", PATHS)
def test_backward_matches_naive_float64(path, name):
    q, k, v, mask, kw = _case(name, torch.float64, requires_grad=True)
    grad_out = torch.randn((*q.shape[:3], v.shape[-1]), dtype=torch.float64)
    out, w = _run(path, q, k, v, mask, chunk_size=2, **kw)
    loss = (out * grad_out).sum()
    want, want_w = _naive(q, k, v, mask, **kw)
    want_loss = (want * grad_out).sum()
    if w is not None:  # the weights are differentiable too
        grad_w = torch.randn(w.shape, dtype=torch.float64)
        loss = loss + (w * grad_w).sum()
        want_loss = want_loss + (want_w * grad_w).sum()
    torch.testing.assert_close(out, want, **F64)
    if k.shape[2] == 0:  # nothing to attend: the (zero) output is a constant, no gradient
        assert not loss.requires_grad and torch.equal(out, torch.zeros_like(out))
        return
    grads = torch.autograd.grad(loss, (q, k, v))
    want_grads = torch.autograd.grad(want_loss, (q, k, v))
    for g, wg in zip(grads, want_grads, strict=True):
        torch.testing.assert_close(g, wg, **F64)


def test_causal_fast_paths_agree_with_mask():
    """causal=True (kernel's is_causal, single query, bottom-right) equals an explicit mask."""
    for Lq, Lk in [(5, 5), (1, 4), (3, 6), (6, 3)]:
        q, k, v = _qkv(2, 4, 2, Lq, Lk, 8)
        explicit = masks.causal_mask(Lq, Lk)
        for path in PATHS:
            a, _ = _run(path, q, k, v, causal=True)
            b, _ = _run(path, q, k, v, explicit)
            torch.testing.assert_close(a, b, **F32)


@pytest.mark.parametrize("path", PATHS)
def test_masks_of_every_rank_broadcast(path):
    """(Lk,), (Lq, Lk), (H, Lq, Lk) and (B, H, Lq, Lk) masks mean the same thing."""
    q, k, v = _qkv(2, 3, 3, 4, 5, 4, dtype=torch.float64)
    g = torch.Generator().manual_seed(5)
    for shape in [(5,), (4, 5), (3, 4, 5), (1, 3, 1, 5), (2, 1, 4, 1)]:
        m = torch.rand(shape, generator=g) > 0.3
        full = m.expand(2, 3, 4, 5).clone()  # (B, H, Lq, Lk)
        for causal in (False, True):
            out, w = _run(path, q, k, v, m, causal=causal)
            want, want_w = _run(path, q, k, v, full, causal=causal)
            torch.testing.assert_close(out, want, **F64)
            torch.testing.assert_close(out, _naive(q, k, v, full, causal=causal)[0], **F64)
            if w is not None:
                torch.testing.assert_close(w, want_w, **F64)


def test_empty_keys_shapes_and_weights():
    q, k, v = _qkv(2, 4, 2, 3, 0, 4, Dv=6)
    for path in PATHS:
        out, w = _run(path, q, k, v, torch.ones(2, 1, 1, 0, dtype=torch.bool))
        assert out.shape == (2, 4, 3, 6)
        assert torch.equal(out, torch.zeros_like(out))
        if w is not None:
            assert w.shape == (2, 4, 3, 0)


def test_non_contiguous_inputs():
    """Heads taken with a transpose (as a projection produces them) work on every path."""
    x = torch.randn(2, 5, 3, 4)  # (B, L, H, D)
    q = k = v = x.transpose(1, 2)  # (B, H, L, D), non-contiguous
    assert not q.is_contiguous()
    mask = _pad([5, 3], 5)
    want, _ = _naive(q, k, v, mask, causal=True)
    for path in PATHS:
        out, _ = _run(path, q, k, v, mask, causal=True)
        torch.testing.assert_close(out.double(), want, **F32)


# ------------------------------------------------------------------------ fully masked rows


def _empty_row_mask():
    """(B=2, H=2, Lq=4, Lk=5): batch 0 query 1 sees nothing in every head, batch 1 head 0
    query 3 sees nothing, batch 1 head 1 sees only key 4."""
    m = torch.rand(2, 2, 4, 5, generator=torch.Generator().manual_seed(3)) > 0.4
    m[:, :, :, 0] = True
    m[0, :, 1] = False
    m[1, 0, 3] = False
    m[1, 1, 2] = torch.tensor([False, False, False, False, True])
    return m


EMPTY = {
    "some_rows": (lambda: _empty_row_mask(), False, 4, 5),
    "all_masked": (lambda: torch.zeros(1, 1, 1, 1, dtype=torch.bool), False, 4, 5),
    "padding_zero_length": (lambda: _pad([0, 5], 5), False, 4, 5),
    "causal_lq_gt_lk": (lambda: None, True, 4, 2),
    "mask_and_causal": (lambda: _empty_row_mask()[..., 1:], True, 4, 4),
}


@pytest.mark.parametrize("name", list(EMPTY))
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("path", PATHS)
def test_fully_masked_rows_zero_and_finite(path, dtype, name):
    make_mask, causal, Lq, Lk = EMPTY[name]
    mask = make_mask()
    q, k, v = _qkv(2, 2, 2, Lq, Lk, 4, dtype=dtype, requires_grad=True)
    out, w = _run(path, q, k, v, mask, causal=causal, chunk_size=2)
    empty = ~_visible(2, 2, Lq, Lk, mask, causal).any(dim=-1)  # (B, H, Lq)
    assert bool(empty.any())
    assert torch.equal(out[empty], torch.zeros_like(out[empty]))  # exactly zero
    assert bool(torch.isfinite(out).all())
    if w is not None:
        assert torch.equal(w[empty], torch.zeros_like(w[empty]))
        assert bool(torch.isfinite(w).all())
    loss = out.square().sum() + (0.0 if w is None else w.square().sum())
    dq, dk, dv = torch.autograd.grad(loss, (q, k, v))
    for g in (dq, dk, dv):
        assert bool(torch.isfinite(g).all())
    assert torch.equal(dq[empty], torch.zeros_like(dq[empty]))  # no gradient from empty rows
    want, want_w = _naive(q, k, v, mask, causal=causal)
    want_loss = want.square().sum() + (0.0 if w is None else want_w.square().sum())
    tol = F64 if dtype == torch.float64 else F32
    for g, wg in zip((dq, dk, dv), torch.autograd.grad(want_loss, (q, k, v)), strict=True):
        torch.testing.assert_close(g, wg, **tol)


# --------------------------------------------------------------- chunked == eager, backward


CHUNK_CONFIGS = {
    "none": (2, 2, 2, 5, 7, False, None),
    "mask": (2, 2, 2, 5, 7, False, "empty_rows"),
    "causal_square": (1, 2, 2, 6, 6, True, None),
    "causal_lq_lt_lk": (1, 2, 2, 3, 7, True, None),
    "causal_lq_gt_lk": (1, 2, 2, 7, 4, True, None),
    "mask_causal": (2, 2, 2, 5, 7, True, "empty_rows"),
    "gqa": (2, 4, 2, 5, 7, False, None),
    "gqa_causal": (1, 6, 2, 4, 6, True, None),
    "gqa_mask_causal": (2, 4, 1, 5, 7, True, "padding"),
}


def _chunk_mask(kind, B, H, Lq, Lk):
    if kind is None:
        return None
    if kind == "padding":
        return _pad([Lk, 2], Lk)
    m = torch.rand(B, H, Lq, Lk, generator=torch.Generator().manual_seed(7)) > 0.5
    m[0, :, 0] = False
    return m


@pytest.mark.parametrize("name", list(CHUNK_CONFIGS))
def test_chunked_backward_equals_eager(name):
    B, H, Hkv, Lq, Lk, causal, mask_kind = CHUNK_CONFIGS[name]
    mask = _chunk_mask(mask_kind, B, H, Lq, Lk)
    q, k, v = _qkv(B, H, Hkv, Lq, Lk, 3, dtype=torch.float64, requires_grad=True, seed=11)
    grad_out = torch.randn(B, H, Lq, 3, dtype=torch.float64)
    ref, _ = _run("eager", q, k, v, mask, causal=causal)
    ref_grads = torch.autograd.grad(ref, (q, k, v), grad_out)
    for chunk in (1, 2, 3, Lk - 1, Lk, Lk + 4):
        out, _ = _run("chunked", q, k, v, mask, causal=causal, chunk_size=chunk)
        torch.testing.assert_close(out, ref, rtol=1e-12, atol=1e-12)
        grads = torch.autograd.grad(out, (q, k, v), grad_out)
        for g, rg in zip(grads, ref_grads, strict=True):
            torch.testing.assert_close(g, rg, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("name", ["none", "mask_causal", "gqa_causal", "causal_lq_gt_lk"])
def test_chunked_bf16_close_to_fp32(name):
    B, H, Hkv, Lq, Lk, causal, mask_kind = CHUNK_CONFIGS[name]
    mask = _chunk_mask(mask_kind, B, H, Lq, Lk)
    q, k, v = _qkv(B, H, Hkv, Lq, Lk, 8, dtype=torch.bfloat16, requires_grad=True, seed=5)
    grad_out = torch.randn(B, H, Lq, 8).to(torch.bfloat16)
    out, _ = _run("chunked", q, k, v, mask, causal=causal, chunk_size=3)
    assert out.dtype == torch.bfloat16
    grads = torch.autograd.grad(out, (q, k, v), grad_out)
    # reference in float32 from the same (bf16-rounded) inputs
    q32, k32, v32 = (t.detach().float().requires_grad_() for t in (q, k, v))
    ref, _ = _run("eager", q32, k32, v32, mask, causal=causal)
    ref_grads = torch.autograd.grad(ref, (q32, k32, v32), grad_out.float())
    torch.testing.assert_close(out.float(), ref, rtol=2e-2, atol=2e-2)
    for g, rg in zip(grads, ref_grads, strict=True):
        assert g.dtype == torch.bfloat16
        torch.testing.assert_close(g.float(), rg, rtol=5e-2, atol=5e-2)


# ------------------------------------------------------------------------------------ dropout


@pytest.mark.parametrize("path", PATHS)
def test_dropout_changes_output_without_nan(path):
    mask = _empty_row_mask()
    q, k, v = _qkv(2, 2, 2, 4, 5, 4, requires_grad=True)
    plain, _ = _run(path, q, k, v, mask, chunk_size=2)
    torch.manual_seed(1)
    dropped, w = _run(path, q, k, v, mask, chunk_size=2, dropout_p=0.5)
    assert bool(torch.isfinite(dropped).all())
    assert not torch.allclose(dropped, plain)
    empty = ~mask.any(dim=-1)
    assert torch.equal(dropped[empty], torch.zeros_like(dropped[empty]))
    if w is not None:  # the returned weights are the probabilities before dropout
        _, w0 = _run(path, q, k, v, mask)
        torch.testing.assert_close(w, w0, rtol=0, atol=0)
    for g in torch.autograd.grad(dropped.sum(), (q, k, v)):
        assert bool(torch.isfinite(g).all())


@pytest.mark.parametrize("path", PATHS)
def test_dropout_drops_whole_probabilities(path):
    """With one-hot values the output *is* the dropped probability matrix: every entry is
    either 0 or p / (1 - dropout_p), and both occur."""
    B, H, Lq, Lk, p = 2, 2, 6, 8, 0.4
    q, k, _ = _qkv(B, H, H, Lq, Lk, 4, dtype=torch.float64)
    v = torch.eye(Lk, dtype=torch.float64).expand(B, H, Lk, Lk)  # (B, H, Lk, Dv=Lk)
    mask = _pad([8, 5], Lk)
    _, w = _naive(q, k, v, mask, causal=True)
    torch.manual_seed(2)
    out, _ = _run(path, q, k, v, mask, causal=True, chunk_size=3, dropout_p=p)
    kept = out != 0
    assert bool(kept.any()) and bool((~kept & (w > 0)).any())
    torch.testing.assert_close(out[kept], w[kept] / (1 - p), rtol=1e-10, atol=1e-10)
    assert bool((w[kept] > 0).all())  # nothing appears where attention is masked


def test_chunked_dropout_seeded_and_backward_consistent():
    """The chunked dropout pattern depends only on torch's RNG state: with the seed fixed the
    function is deterministic, its gradient passes gradcheck, and the backward uses the
    forward's pattern (the output is linear in v, so <dout, out> = <dv, v>)."""
    q, k, v = _qkv(1, 4, 2, 4, 5, 3, dtype=torch.float64, requires_grad=True, seed=4)
    mask = _empty_row_mask()[:1, :1]  # (1, 1, 4, 5): query 1 sees nothing

    def f(q, k, v):
        torch.manual_seed(123)
        return _run("chunked", q, k, v, mask, causal=True, chunk_size=2, dropout_p=0.3)[0]

    a, b = f(q, k, v), f(q, k, v)
    assert torch.equal(a, b)
    torch.manual_seed(124)
    other = _run("chunked", q, k, v, mask, causal=True, chunk_size=2, dropout_p=0.3)[0]
    assert not torch.equal(a, other)
    g = torch.randn_like(a)
    (dv,) = torch.autograd.grad(a, (v,), g)
    torch.testing.assert_close((a * g).sum(), (dv * v).sum(), rtol=1e-12, atol=1e-12)
    assert torch.autograd.gradcheck(f, (q, k, v), eps=1e-6, atol=1e-6)


# ------------------------------------------------------------------------- property tests


@st.composite
def _attention_case(draw):
    B = draw(st.integers(1, 2))
    Hkv = draw(st.integers(1, 2))
    H = Hkv * draw(st.integers(1, 3))
    Lq = draw(st.integers(1, 6))
    Lk = draw(st.integers(0, 6))
    D = draw(st.integers(1, 4))
    use_mask = draw(st.booleans())
    mask_shape = (
        draw(st.sampled_from([1, B])),
        draw(st.sampled_from([1, H])),
        draw(st.sampled_from([1, Lq])),
        Lk,
    )
    keep = draw(st.sampled_from([0.1, 0.4, 0.7, 1.0]))
    causal = draw(st.booleans())
    seed = draw(st.integers(0, 2**31 - 1))
    g = torch.Generator().manual_seed(seed)
    q = torch.randn(B, H, Lq, D, generator=g, dtype=torch.float64)
    k = torch.randn(B, Hkv, Lk, D, generator=g, dtype=torch.float64)
    v = torch.randn(B, Hkv, Lk, D + 1, generator=g, dtype=torch.float64)
    mask = torch.rand(mask_shape, generator=g) < keep if use_mask else None
    return q, k, v, mask, causal


PROPERTY = settings(max_examples=30, deadline=None)


@PROPERTY
@given(_attention_case())
def test_property_weight_rows(case):
    q, k, v, mask, causal = case
    B, H, Lq, _ = q.shape
    Lk = k.shape[2]
    out, w = _run("eager", q, k, v, mask, causal=causal)
    allowed = _visible(B, H, Lq, Lk, mask, causal)
    has_key = allowed.any(dim=-1)  # (B, H, Lq)
    sums = w.sum(dim=-1)
    torch.testing.assert_close(sums[has_key], torch.ones_like(sums[has_key]), rtol=0, atol=1e-12)
    assert torch.equal(w[~has_key], torch.zeros_like(w[~has_key]))
    assert torch.equal(w[~allowed], torch.zeros_like(w[~allowed]))  # masked keys get nothing
    assert bool((w >= 0).all())
    assert torch.equal(out[~has_key], torch.zeros_like(out[~has_key]))
    want, want_w = _naive(q, k, v, mask, causal=causal)
    torch.testing.assert_close(w, want_w, **F64)
    torch.testing.assert_close(out, want, **F64)


@PROPERTY
@given(_attention_case(), st.integers(1, 8))
def test_property_chunked_and_fused_equal_eager(case, chunk):
    q, k, v, mask, causal = case
    ref, _ = _run("eager", q, k, v, mask, causal=causal)
    out, _ = _run("chunked", q, k, v, mask, causal=causal, chunk_size=chunk)
    torch.testing.assert_close(out, ref, rtol=1e-12, atol=1e-12)
    fused, _ = _run("fused", q, k, v, mask, causal=causal)
    torch.testing.assert_close(fused, ref, **F64)


@PROPERTY
@given(_attention_case(), st.sampled_from(PATHS))
def test_property_gqa_equals_repeated_heads(case, path):
    q, k, v, mask, causal = case
    G = q.shape[1] // k.shape[1]
    kr, vr = k.repeat_interleave(G, dim=1), v.repeat_interleave(G, dim=1)  # (B, H, Lk, D)
    out, w = _run(path, q, k, v, mask, causal=causal, chunk_size=2)
    ref, ref_w = _run(path, q, kr, vr, mask, causal=causal, chunk_size=2)
    torch.testing.assert_close(out, ref, **F64)
    if w is not None:
        torch.testing.assert_close(w, ref_w, **F64)


# ---------------------------------------------------------------------------------- gradcheck


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize(("Hkv", "causal"), [(2, False), (1, True)])
def test_gradcheck_with_fully_masked_row(path, Hkv, causal):
    q, k, v = _qkv(1, 2, Hkv, 4, 5, 3, dtype=torch.float64, requires_grad=True, seed=9)
    mask = _empty_row_mask()[1:]  # (1, 2, 4, 5): head 0 query 3 sees nothing
    assert not bool(mask[0, 0, 3].any())

    def f(q, k, v):
        out, w = _run(path, q, k, v, mask, causal=causal, chunk_size=2)
        return out if w is None else (out, w)

    assert torch.autograd.gradcheck(f, (q, k, v), eps=1e-6, atol=1e-7)


# ------------------------------------------------------------------------------------ errors


@pytest.mark.parametrize(
    ("shapes", "message"),
    [
        (((2, 4, 3), (1, 2, 4, 3), (1, 2, 4, 3)), r"q, k, v must be 4-D \(B, H, L, D\)"),
        (((1, 2, 4, 3), (2, 4, 3), (1, 2, 4, 3)), "must be 4-D"),
        (((1, 2, 4, 3), (1, 2, 4, 3), (1, 1, 2, 4, 3)), "must be 4-D"),
        (((1, 2, 4, 3), (1, 2, 4, 5), (1, 2, 4, 3)), "shape mismatch: expected q"),
        (((2, 2, 4, 3), (1, 2, 4, 3), (1, 2, 4, 3)), "shape mismatch"),
        (((1, 2, 4, 3), (1, 2, 4, 3), (2, 2, 4, 3)), "shape mismatch"),
        (((1, 2, 4, 3), (1, 2, 4, 3), (1, 1, 4, 3)), "shape mismatch"),
        (((1, 2, 4, 3), (1, 2, 5, 3), (1, 2, 4, 3)), "shape mismatch"),
        (((1, 3, 4, 3), (1, 2, 4, 3), (1, 2, 4, 3)), "H=3 must be a multiple of .* Hkv=2"),
        (((1, 2, 4, 3), (1, 0, 4, 3), (1, 0, 4, 3)), "H=2 must be a multiple of .* Hkv=0"),
    ],
)
def test_shape_errors(shapes, message):
    q, k, v = (torch.randn(s) for s in shapes)
    for kw in ({}, {"return_weights": True}, {"chunk_size": 2}):
        with pytest.raises(ValueError, match=message):
            sdpa(q, k, v, **kw)


@pytest.mark.parametrize(
    ("mask", "message"),
    [
        (
            torch.ones(1, 1, 1, 5),
            "mask must be bool with True = may attend, got dtype torch.float32",
        ),
        (torch.ones(1, 5, dtype=torch.long), "mask must be bool .*from_key_padding_mask"),
        (torch.ones(1, 1, 1, 1, 5, dtype=torch.bool), "mask must have at most 4 dims"),
        (torch.ones(1, 1, 1, 4, dtype=torch.bool), r"not broadcastable to \(B, H, Lq, Lk\)"),
        (torch.ones(3, 1, 1, 5, dtype=torch.bool), "not broadcastable"),
        (torch.ones(1, 3, 1, 5, dtype=torch.bool), "not broadcastable"),
        (torch.ones(2, 5, dtype=torch.bool), "not broadcastable"),  # (Lq=3, Lk) expected
    ],
)
def test_mask_errors(mask, message):
    q, k, v = _qkv(2, 4, 2, 3, 5, 4)
    for kw in ({}, {"return_weights": True}, {"chunk_size": 2}, {"causal": True}):
        with pytest.raises(ValueError, match=message):
            sdpa(q, k, v, mask, **kw)


def test_chunk_size_errors():
    q, k, v = _qkv(1, 2, 2, 3, 4, 4)
    for bad in (0, -3):
        with pytest.raises(ValueError, match=f"chunk_size must be >= 1, got {bad}"):
            sdpa(q, k, v, chunk_size=bad)
    with pytest.raises(ValueError, match="chunk_size cannot be combined with return_weights"):
        sdpa(q, k, v, chunk_size=2, return_weights=True)
    with pytest.raises(ValueError, match="chunk_size cannot be combined with return_weights"):
        sdpa(q, k, v, _pad([4], 4), causal=True, chunk_size=2, return_weights=True)


@pytest.mark.parametrize("name", ["none", "mask_causal", "gqa_causal", "causal_lq_gt_lk"])
@pytest.mark.parametrize("eager_on_cpu", [True, False])
def test_bf16_default_path_close_to_fp32_either_kernel(name, eager_on_cpu, monkeypatch):
    # On CPU in bf16 with short keys the default path runs the explicit softmax (the fused
    # kernel's backward is slower there); either way it must agree with the fp32 reference.
    monkeypatch.setattr(sdpa_module, "EAGER_ON_CPU_LOW_PRECISION", eager_on_cpu)
    B, H, Hkv, Lq, Lk, causal, mask_kind = CHUNK_CONFIGS[name]
    mask = _chunk_mask(mask_kind, B, H, Lq, Lk)
    q, k, v = _qkv(B, H, Hkv, Lq, Lk, 8, dtype=torch.bfloat16, requires_grad=True, seed=7)
    grad_out = torch.randn(B, H, Lq, 8).to(torch.bfloat16)
    out, weights = sdpa(q, k, v, mask, causal=causal)
    assert weights is None and out.dtype == torch.bfloat16
    grads = torch.autograd.grad(out, (q, k, v), grad_out)
    q32, k32, v32 = (t.detach().float().requires_grad_() for t in (q, k, v))
    ref, _ = _run("eager", q32, k32, v32, mask, causal=causal)
    ref_grads = torch.autograd.grad(ref, (q32, k32, v32), grad_out.float())
    torch.testing.assert_close(out.float(), ref, rtol=2e-2, atol=2e-2)
    for g, rg in zip(grads, ref_grads, strict=True):
        torch.testing.assert_close(g.float(), rg, rtol=5e-2, atol=5e-2)
