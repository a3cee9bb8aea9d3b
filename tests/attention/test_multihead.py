"""MultiHeadAttention against torch.nn.MultiheadAttention; KV cache, GQA, gradcheck, errors.

Notation: B batch, Lq/Lk query/key length, E embed_dim, H heads, Hkv key/value heads.
"""

import pytest
import torch
from torch import nn

from attnkit.attention import masks
from attnkit.attention.multihead import KVCache, MultiHeadAttention

F64 = {"rtol": 1e-10, "atol": 1e-10}
F32 = {"rtol": 1e-5, "atol": 1e-5}


def _torch_mha(E, H, *, kdim=None, vdim=None, bias=True, dtype=torch.float64, seed=0):
    """A batch-first torch MHA with every parameter random (torch zero-inits the biases)."""
    torch.manual_seed(seed)
    ref = nn.MultiheadAttention(E, H, kdim=kdim, vdim=vdim, bias=bias, batch_first=True)
    ref = ref.to(dtype)
    with torch.no_grad():
        for p in ref.parameters():
            p.copy_(torch.randn_like(p) * 0.5)
    return ref


def _ours(E, H, *, num_kv_heads=None, kdim=None, vdim=None, dtype=torch.float64, seed=0):
    torch.manual_seed(seed)
    mha = MultiHeadAttention(E, H, num_kv_heads=num_kv_heads, kdim=kdim, vdim=vdim).to(dtype)
    with torch.no_grad():
        for p in mha.parameters():
            p.copy_(torch.randn_like(p) * 0.5)
    return mha.eval()


def _ref_call(ref, query, key, value, *, key_padding_mask=None, attn_mask=None):
    out, w = ref(
        query,
        key,
        value,
        key_padding_mask=key_padding_mask,
        attn_mask=attn_mask,
        need_weights=True,
        average_attn_weights=False,
    )
    return out, w  # (B, Lq, E), (B, H, Lq, Lk)


# --------------------------------------------------------------------- against torch's MHA


@pytest.mark.parametrize("bias", [True, False])
def test_from_torch_self_attention(bias):
    ref = _torch_mha(8, 2, bias=bias)
    ours = MultiHeadAttention.from_torch(ref)
    assert ours.q_proj.weight.dtype == torch.float64
    assert (ours.q_proj.bias is None) == (not bias)
    x = torch.randn(3, 5, 8, dtype=torch.float64)  # (B, L, E)
    want, want_w = _ref_call(ref, x, x, x)
    out, w = ours(x, return_weights=True)
    torch.testing.assert_close(out, want, **F64)
    torch.testing.assert_close(w, want_w, **F64)  # per-head weights
    fast, none = ours(x)  # the fused path gives the same output
    assert none is None
    torch.testing.assert_close(fast, want, **F64)


def test_manual_weight_copy_matches_projection_layout():
    """in_proj_weight is [W_q; W_k; W_v] stacked on dim 0, heads contiguous in each block."""
    E, H = 12, 3
    ref = _torch_mha(E, H)
    ours = MultiHeadAttention(E, H).double().eval()
    with torch.no_grad():
        ours.q_proj.weight.copy_(ref.in_proj_weight[:E])
        ours.k_proj.weight.copy_(ref.in_proj_weight[E : 2 * E])
        ours.v_proj.weight.copy_(ref.in_proj_weight[2 * E :])
        ours.q_proj.bias.copy_(ref.in_proj_bias[:E])
        ours.k_proj.bias.copy_(ref.in_proj_bias[E : 2 * E])
        ours.v_proj.bias.copy_(ref.in_proj_bias[2 * E :])
        ours.out_proj.weight.copy_(ref.out_proj.weight)
        ours.out_proj.bias.copy_(ref.out_proj.bias)
    q = torch.randn(2, 4, E, dtype=torch.float64)
    kv = torch.randn(2, 6, E, dtype=torch.float64)
    want, want_w = _ref_call(ref, q, kv, kv)
    out, w = ours(q, kv, return_weights=True)
    torch.testing.assert_close(out, want, **F64)
    torch.testing.assert_close(w, want_w, **F64)
    # and from_torch builds the very same parameters
    built = MultiHeadAttention.from_torch(ref)
    for (name, p), (name2, p2) in zip(
        ours.named_parameters(), built.named_parameters(), strict=True
    ):
        assert name == name2
        assert torch.equal(p, p2)


def test_cross_attention_with_kdim_vdim():
    E, H, kdim, vdim = 8, 4, 5, 7
    ref = _torch_mha(E, H, kdim=kdim, vdim=vdim)
    assert not ref._qkv_same_embed_dim
    ours = MultiHeadAttention.from_torch(ref)
    assert (ours.kdim, ours.vdim) == (kdim, vdim)
    q = torch.randn(2, 3, E, dtype=torch.float64)
    k = torch.randn(2, 6, kdim, dtype=torch.float64)
    v = torch.randn(2, 6, vdim, dtype=torch.float64)
    kpm = masks.padding_mask([6, 4]).logical_not()  # torch's convention: True = padding
    want, want_w = _ref_call(ref, q, k, v, key_padding_mask=kpm)
    for return_weights in (True, False):
        out, w = ours(q, k, v, mask=masks.from_key_padding_mask(kpm), return_weights=return_weights)
        torch.testing.assert_close(out, want, **F64)
        if return_weights:
            torch.testing.assert_close(w, want_w, **F64)
            assert torch.equal(w[1, :, :, 4:], torch.zeros_like(w[1, :, :, 4:]))


@pytest.mark.parametrize("form", ["bool", "float"])
def test_key_padding_mask_forms(form):
    ref = _torch_mha(8, 2)
    ours = MultiHeadAttention.from_torch(ref)
    x = torch.randn(3, 5, 8, dtype=torch.float64)
    pad = masks.padding_mask([5, 3, 1])  # True = real token
    kpm = ~pad if form == "bool" else masks.to_additive(pad, torch.float64)
    want, want_w = _ref_call(ref, x, x, x, key_padding_mask=kpm)
    out, w = ours(x, mask=masks.from_key_padding_mask(kpm), return_weights=True)
    torch.testing.assert_close(out, want, **F64)
    torch.testing.assert_close(w, want_w, **F64)


@pytest.mark.parametrize(("Lq", "Lk"), [(5, 5), (3, 6)])
def test_causal_via_attn_mask(Lq, Lk):
    """torch's attn_mask (True = blocked) of a bottom-right causal mask == ours."""
    ref = _torch_mha(8, 2)
    ours = MultiHeadAttention.from_torch(ref)
    q = torch.randn(2, Lq, 8, dtype=torch.float64)
    kv = torch.randn(2, Lk, 8, dtype=torch.float64)
    blocked = torch.ones(Lq, Lk, dtype=torch.bool)
    for i in range(Lq):
        blocked[i, : i + (Lk - Lq) + 1] = False
    want, want_w = _ref_call(ref, q, kv, kv, attn_mask=blocked)
    for kw in ({"causal": True}, {"mask": masks.causal_mask(Lq, Lk)}):
        out, w = ours(q, kv, return_weights=True, **kw)
        torch.testing.assert_close(out, want, **F64)
        torch.testing.assert_close(w, want_w, **F64)
        fast, _ = ours(q, kv, **kw)
        torch.testing.assert_close(fast, want, **F64)


def test_causal_and_padding_float32():
    ref = _torch_mha(16, 4, dtype=torch.float32)
    ours = MultiHeadAttention.from_torch(ref)
    assert ours.q_proj.weight.dtype == torch.float32
    x = torch.randn(2, 6, 16)
    kpm = masks.padding_mask([6, 4]).logical_not()
    want, want_w = _ref_call(ref, x, x, x, key_padding_mask=kpm, attn_mask=~masks.causal_mask(6))
    mask = masks.combine(masks.from_key_padding_mask(kpm), masks.causal_mask(6))
    out, w = ours(x, mask=mask, return_weights=True)
    torch.testing.assert_close(out, want, **F32)
    torch.testing.assert_close(w, want_w, **F32)
    out2, _ = ours(x, mask=masks.from_key_padding_mask(kpm), causal=True)
    torch.testing.assert_close(out2, want, **F32)


@pytest.mark.parametrize("return_weights", [False, True])
def test_gradients_equal_torch(return_weights):
    E, H, kdim, vdim = 8, 2, 6, 5
    ref = _torch_mha(E, H, kdim=kdim, vdim=vdim)
    ours = MultiHeadAttention.from_torch(ref)
    q = torch.randn(2, 4, E, dtype=torch.float64, requires_grad=True)
    k = torch.randn(2, 5, kdim, dtype=torch.float64, requires_grad=True)
    v = torch.randn(2, 5, vdim, dtype=torch.float64, requires_grad=True)
    kpm = masks.padding_mask([5, 3]).logical_not()
    grad_out = torch.randn(2, 4, E, dtype=torch.float64)
    want, _ = _ref_call(ref, q, k, v, key_padding_mask=kpm)
    want_inputs = torch.autograd.grad(want, (q, k, v), grad_out, retain_graph=True)
    (want * grad_out).sum().backward()
    mask = masks.from_key_padding_mask(kpm)
    out, _ = ours(q, k, v, mask=mask, return_weights=return_weights)
    got_inputs = torch.autograd.grad(out, (q, k, v), grad_out, retain_graph=True)
    (out * grad_out).sum().backward()
    for g, wg in zip(got_inputs, want_inputs, strict=True):
        torch.testing.assert_close(g, wg, **F64)
    pairs = [
        (ours.q_proj.weight, ref.q_proj_weight),
        (ours.k_proj.weight, ref.k_proj_weight),
        (ours.v_proj.weight, ref.v_proj_weight),
        (ours.out_proj.weight, ref.out_proj.weight),
        (ours.out_proj.bias, ref.out_proj.bias),
    ]
    bq, bk, bv = ref.in_proj_bias.grad.chunk(3)
    for p, g in [(ours.q_proj.bias, bq), (ours.k_proj.bias, bk), (ours.v_proj.bias, bv)]:
        torch.testing.assert_close(p.grad, g, **F64)
    for p, rp in pairs:
        torch.testing.assert_close(p.grad, rp.grad, **F64)


def test_gradients_equal_torch_packed_in_proj():
    ref = _torch_mha(8, 4)
    ours = MultiHeadAttention.from_torch(ref)
    x = torch.randn(2, 5, 8, dtype=torch.float64)
    blocked = ~masks.causal_mask(5)
    want, _ = _ref_call(ref, x, x, x, attn_mask=blocked)
    want.square().sum().backward()
    out, _ = ours(x, causal=True)
    out.square().sum().backward()
    ours_in = torch.cat([ours.q_proj.weight.grad, ours.k_proj.weight.grad, ours.v_proj.weight.grad])
    torch.testing.assert_close(ours_in, ref.in_proj_weight.grad, **F64)
    ours_b = torch.cat([ours.q_proj.bias.grad, ours.k_proj.bias.grad, ours.v_proj.bias.grad])
    torch.testing.assert_close(ours_b, ref.in_proj_bias.grad, **F64)
    torch.testing.assert_close(ours.out_proj.weight.grad, ref.out_proj.weight.grad, **F64)


def test_dropout_train_and_eval():
    ref = _torch_mha(8, 2)
    ref.dropout = 0.3
    ours = MultiHeadAttention.from_torch(ref)
    assert ours.dropout == 0.3
    x = torch.randn(2, 5, 8, dtype=torch.float64)
    ref.eval()
    want, _ = _ref_call(ref, x, x, x)
    out, _ = ours.eval()(x)
    torch.testing.assert_close(out, want, **F64)  # no dropout at evaluation
    ours.train()
    torch.manual_seed(0)
    dropped, _ = ours(x)
    assert bool(torch.isfinite(dropped).all())
    assert not torch.allclose(dropped, want)


# ------------------------------------------------------------------------------- KV cache


def _decode(mha, x, sizes, *, mask=None, return_weights=False):
    """Feed ``x`` (B, L, E) through a fresh cache in pieces of ``sizes`` tokens."""
    cache = KVCache()
    outs, weights, t = [], [], 0
    for n in sizes:
        step_mask = None if mask is None else mask[..., : t + n]  # keys seen so far
        out, w = mha(
            x[:, t : t + n],
            causal=True,
            cache=cache,
            mask=step_mask,
            return_weights=return_weights,
        )
        assert len(cache) == t + n
        outs.append(out)
        weights.append(w)
        t += n
    return torch.cat(outs, dim=1), weights, cache


@pytest.mark.parametrize("num_kv_heads", [None, 2])
@pytest.mark.parametrize("sizes", [[1] * 7, [3, 2, 2], [2, 3, 1, 1], [7]])
def test_incremental_decoding_equals_full_causal_pass(num_kv_heads, sizes):
    mha = _ours(16, 4, num_kv_heads=num_kv_heads)
    x = torch.randn(2, 7, 16, dtype=torch.float64)
    full, full_w = mha(x, causal=True, return_weights=True)
    steps, step_w, cache = _decode(mha, x, sizes, return_weights=True)
    torch.testing.assert_close(steps, full, **F64)
    hkv = num_kv_heads or 4
    assert cache.k.shape == (2, hkv, 7, 4) and cache.v.shape == (2, hkv, 7, 4)
    t = 0
    for n, w in zip(sizes, step_w, strict=True):
        # the rows of this piece, over the keys seen so far; the future gets zero weight
        torch.testing.assert_close(w, full_w[:, :, t : t + n, : t + n], **F64)
        future = full_w[:, :, t : t + n, t + n :]
        assert torch.equal(future, torch.zeros_like(future))
        t += n
    fused, _, _ = _decode(mha, x, sizes)  # the fused path, no weights
    torch.testing.assert_close(fused, full, **F64)


def test_incremental_decoding_with_left_padding():
    mha = _ours(8, 2, num_kv_heads=1)
    x = torch.randn(3, 6, 8, dtype=torch.float64)
    pad = masks.padding_mask([6, 4, 5]).flip(-1)  # left padding: True = real token
    mask = pad[:, None, None, :]  # (B, 1, 1, L)
    full, _ = mha(x, mask=mask, causal=True)
    steps, _, _ = _decode(mha, x, [2, 1, 1, 2], mask=mask)
    torch.testing.assert_close(steps, full, **F64)
    # a padding query at the start sees no key: zero context, so just the output bias
    assert torch.equal(steps[1, 0], mha.out_proj.bias) and torch.equal(full[1, 0], steps[1, 0])


def test_static_cache_for_cross_attention():
    E, kdim = 8, 6
    mha = _ours(E, 2, kdim=kdim, vdim=kdim)
    memory = torch.randn(2, 5, kdim, dtype=torch.float64)  # encoder output (B, Ls, kdim)
    pad = masks.from_key_padding_mask(masks.padding_mask([5, 3]).logical_not())
    queries = torch.randn(2, 4, E, dtype=torch.float64)
    full, full_w = mha(queries, memory, mask=pad, return_weights=True)
    cache = KVCache(static=True)
    outs = []
    for t in range(4):
        # after the first step key/value may be None: the cache is reused, not re-projected
        key = memory if t == 0 else None
        out, w = mha(queries[:, t : t + 1], key, mask=pad, cache=cache, return_weights=True)
        assert len(cache) == 5 and cache.filled
        torch.testing.assert_close(w, full_w[:, :, t : t + 1], **F64)
        outs.append(out)
    torch.testing.assert_close(torch.cat(outs, dim=1), full, **F64)
    # a filled static cache ignores new keys
    stored = cache.k
    again, _ = mha(queries, torch.randn(2, 9, kdim, dtype=torch.float64), mask=pad, cache=cache)
    assert cache.k is stored
    torch.testing.assert_close(again, full, **F64)


def test_kvcache_reorder():
    """Reordering the cache (beam search) == decoding the reordered batch from scratch."""
    mha = _ours(8, 2)
    x = torch.randn(3, 6, 8, dtype=torch.float64)
    index = torch.tensor([2, 0, 0, 1])
    cache = KVCache()
    outs = [mha(x[:, :3], causal=True, cache=cache)[0][index]]
    cache.reorder(index)
    assert len(cache) == 3 and cache.k.shape[0] == 4
    xr = x[index]
    for t in range(3, 6):
        outs.append(mha(xr[:, t : t + 1], causal=True, cache=cache)[0])
    full, _ = mha(xr, causal=True)
    torch.testing.assert_close(torch.cat(outs, dim=1), full, **F64)


def test_kvcache_bookkeeping_and_errors():
    cache = KVCache()
    assert len(cache) == 0 and not cache.filled
    cache.reorder(torch.tensor([0]))  # nothing stored: a no-op
    k1, v1 = torch.randn(2, 3, 4, 5), torch.randn(2, 3, 4, 5)
    k, v = cache.update(k1, v1)
    assert torch.equal(k, k1) and torch.equal(v, v1) and len(cache) == 4
    k2, v2 = torch.randn(2, 3, 2, 5), torch.randn(2, 3, 2, 5)
    k, v = cache.update(k2, v2)
    assert torch.equal(k, torch.cat([k1, k2], dim=2)) and torch.equal(v, torch.cat([v1, v2], 2))
    with pytest.raises(ValueError, match=r"cache holds keys of shape \(2, 3, 6, 5\)"):
        cache.update(torch.randn(2, 2, 1, 5), torch.randn(2, 2, 1, 5))
    with pytest.raises(ValueError, match="cannot append"):
        cache.update(torch.randn(2, 3, 1, 4), torch.randn(2, 3, 1, 4))
    cache.reset()
    assert len(cache) == 0 and not cache.filled and cache.k is None and cache.v is None
    static = KVCache(static=True)
    static.update(k1, v1)
    k, _ = static.update(k2, v2)  # update of a static cache replaces
    assert torch.equal(k, k2) and len(static) == 2


# ------------------------------------------------------------------------------------ GQA


def _repeat_kv_heads(weight, Hkv, G, D):
    """``(Hkv * D, ...) -> (Hkv * G * D, ...)``: each key/value head's rows repeated G times."""
    w = weight.reshape(Hkv, D, *weight.shape[1:])
    return w.repeat_interleave(G, dim=0).reshape(Hkv * G * D, *weight.shape[1:])


@pytest.mark.parametrize(("H", "Hkv"), [(4, 2), (6, 3), (4, 1)])
def test_gqa_equals_mha_with_repeated_kv_weights(H, Hkv):
    E, D = 2 * H, 2
    gqa = _ours(E, H, num_kv_heads=Hkv, kdim=5, vdim=3)
    assert gqa.k_proj.weight.shape == (Hkv * D, 5) and gqa.v_proj.weight.shape == (Hkv * D, 3)
    mha = MultiHeadAttention(E, H, kdim=5, vdim=3).double().eval()
    with torch.no_grad():
        mha.q_proj.load_state_dict(gqa.q_proj.state_dict())
        mha.out_proj.load_state_dict(gqa.out_proj.state_dict())
        for name in ("k_proj", "v_proj"):
            src, dst = getattr(gqa, name), getattr(mha, name)
            dst.weight.copy_(_repeat_kv_heads(src.weight, Hkv, H // Hkv, D))
            dst.bias.copy_(_repeat_kv_heads(src.bias, Hkv, H // Hkv, D))
    q = torch.randn(2, 4, E, dtype=torch.float64, requires_grad=True)
    k = torch.randn(2, 6, 5, dtype=torch.float64, requires_grad=True)
    v = torch.randn(2, 6, 3, dtype=torch.float64, requires_grad=True)
    mask = masks.from_key_padding_mask(masks.padding_mask([6, 2]).logical_not())
    for kw in ({}, {"causal": True}, {"mask": mask}, {"mask": mask, "causal": True}):
        for return_weights in (False, True):
            a, wa = gqa(q, k, v, return_weights=return_weights, **kw)
            b, wb = mha(q, k, v, return_weights=return_weights, **kw)
            torch.testing.assert_close(a, b, **F64)
            if return_weights:
                torch.testing.assert_close(wa, wb, **F64)
            ga = torch.autograd.grad(a.sum(), (q, k, v))
            gb = torch.autograd.grad(b.sum(), (q, k, v))
            for x, y in zip(ga, gb, strict=True):
                torch.testing.assert_close(x, y, **F64)


# ----------------------------------------------------------------------------- gradcheck


@pytest.mark.parametrize("return_weights", [False, True])
@pytest.mark.parametrize("num_kv_heads", [None, 1])
def test_gradcheck_module_with_fully_masked_row(return_weights, num_kv_heads):
    mha = _ours(4, 2, num_kv_heads=num_kv_heads, kdim=3, vdim=3)
    names = [n for n, _ in mha.named_parameters()]
    params = tuple(p.detach().clone().requires_grad_() for p in mha.parameters())
    q = torch.randn(2, 3, 4, dtype=torch.float64, requires_grad=True)
    kv = torch.randn(2, 4, 3, dtype=torch.float64, requires_grad=True)
    mask = torch.ones(2, 1, 3, 4, dtype=torch.bool)
    mask[0, 0, 1] = False  # batch 0, query 1 sees nothing
    mask[1, 0, :, 2:] = False

    def f(q, kv, *ps):
        out, w = torch.func.functional_call(
            mha,
            dict(zip(names, ps, strict=True)),
            (q, kv),
            {"mask": mask, "return_weights": return_weights},
        )
        return out if w is None else (out, w)

    out = f(q, kv, *params)
    out = out[0] if isinstance(out, tuple) else out
    # the empty row's output is exactly the output bias (zero context) and finite
    torch.testing.assert_close(out[0, 1], mha.out_proj.bias, rtol=0, atol=0)
    assert torch.autograd.gradcheck(f, (q, kv, *params), eps=1e-6, atol=1e-7)


# -------------------------------------------------------------------------------- errors


def test_constructor_errors():
    with pytest.raises(ValueError, match="embed_dim=10 must be divisible by num_heads=4"):
        MultiHeadAttention(10, 4)
    with pytest.raises(ValueError, match="must be divisible by num_heads=0"):
        MultiHeadAttention(8, 0)
    with pytest.raises(ValueError, match="num_heads=4 must be a multiple of num_kv_heads=3"):
        MultiHeadAttention(8, 4, num_kv_heads=3)
    with pytest.raises(ValueError, match="num_heads=4 must be a multiple of num_kv_heads=0"):
        MultiHeadAttention(8, 4, num_kv_heads=0)
    with pytest.raises(ValueError, match=r"dropout must be in \[0, 1\), got 1.0"):
        MultiHeadAttention(8, 2, dropout=1.0)
    with pytest.raises(ValueError, match="add_bias_kv / add_zero_attn are not supported"):
        MultiHeadAttention.from_torch(nn.MultiheadAttention(8, 2, add_bias_kv=True))
    with pytest.raises(ValueError, match="add_bias_kv / add_zero_attn are not supported"):
        MultiHeadAttention.from_torch(nn.MultiheadAttention(8, 2, add_zero_attn=True))


def test_forward_shape_errors():
    mha = MultiHeadAttention(8, 2, kdim=6, vdim=5)
    q = torch.randn(2, 3, 8)
    k, v = torch.randn(2, 4, 6), torch.randn(2, 4, 5)
    with pytest.raises(ValueError, match=r"query must be \(B, Lq, 8\), got \(2, 3, 7\)"):
        mha(torch.randn(2, 3, 7), k, v)
    with pytest.raises(ValueError, match=r"query must be \(B, Lq, 8\), got \(3, 8\)"):
        mha(torch.randn(3, 8), k, v)
    with pytest.raises(ValueError, match=r"key must be \(B=2, Lk, 6\), got \(2, 4, 8\)"):
        mha(q, torch.randn(2, 4, 8), v)
    with pytest.raises(ValueError, match=r"key must be \(B=2, Lk, 6\), got \(1, 4, 6\)"):
        mha(q, torch.randn(1, 4, 6), v)
    with pytest.raises(ValueError, match=r"key must be \(B=2, Lk, 6\), got \(4, 6\)"):
        mha(q, torch.randn(4, 6), v)
    with pytest.raises(ValueError, match=r"value must be \(B, Lk=4, 5\), got \(2, 3, 5\)"):
        mha(q, k, torch.randn(2, 3, 5))
    with pytest.raises(ValueError, match=r"value must be \(B, Lk=4, 5\), got \(2, 4, 6\)"):
        mha(q, k)  # value defaults to key, whose width is kdim, not vdim
    with pytest.raises(ValueError, match="not broadcastable"):
        mha(q, k, v, mask=torch.ones(2, 1, 1, 5, dtype=torch.bool))
    with pytest.raises(ValueError, match="mask must be bool"):
        mha(q, k, v, mask=torch.zeros(2, 1, 1, 4))
