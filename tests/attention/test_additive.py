"""Bahdanau / Luong attention and coverage: hand-computed cases, a float64 naive loop,
step-by-step == sequence, precomputed keys, masks, gradcheck."""

import math

import pytest
import torch
import torch.nn.functional as F

from attnkit.attention import AdditiveAttention, LuongAttention, coverage_loss
from attnkit.attention.masks import masked_softmax

B, LK, DQ, DK, DV, A = 3, 5, 4, 6, 7, 8


def _inputs(dtype=torch.float64):
    g = torch.Generator().manual_seed(1)
    q = torch.randn(B, DQ, generator=g, dtype=dtype)
    keys = torch.randn(B, LK, DK, generator=g, dtype=dtype)
    values = torch.randn(B, LK, DV, generator=g, dtype=dtype)
    mask = torch.tensor([[1, 1, 1, 1, 1], [1, 1, 1, 0, 0], [0, 0, 0, 0, 0]], dtype=torch.bool)
    coverage = torch.rand(B, LK, generator=g, dtype=dtype)
    return q, keys, values, mask, coverage


def _naive_additive(att, q, keys, values, mask, coverage):
    """Loop over batch rows and keys, exactly as the paper writes the score."""
    Wq, Wk, bk, v = att.query_proj.weight, att.key_proj.weight, att.key_proj.bias, att.energy.weight
    ctx, weights = [], []
    for b in range(q.shape[0]):
        scores = []
        for i in range(keys.shape[1]):
            h = Wq @ q[b] + Wk @ keys[b, i] + bk
            if coverage is not None:
                h = h + att.coverage_proj.weight[:, 0] * coverage[b, i]
            scores.append(v[0] @ torch.tanh(h))
        visible = [i for i in range(keys.shape[1]) if mask is None or mask[b, i]]
        w = torch.zeros(keys.shape[1], dtype=q.dtype)
        if visible:
            w[visible] = torch.softmax(torch.stack([scores[i] for i in visible]), dim=0)
        weights.append(w)
        ctx.append(w @ values[b])
    return torch.stack(ctx), torch.stack(weights)


def test_additive_hand_computed_scores():
    att = AdditiveAttention(query_dim=2, key_dim=2, hidden_dim=2)
    with torch.no_grad():
        att.query_proj.weight.zero_()
        att.key_proj.weight.copy_(torch.eye(2))
        att.key_proj.bias.zero_()
        att.energy.weight.fill_(1.0)
    t = math.atanh(0.5)
    keys = torch.tensor([[[0.0, 0.0], [t, t]]])  # scores 0 and tanh(t) + tanh(t) = 1
    values = torch.tensor([[[1.0], [3.0]]])
    ctx, w = att(torch.zeros(1, 2), keys, values)
    p = math.e / (1 + math.e)
    torch.testing.assert_close(w, torch.tensor([[1 - p, p]]))
    torch.testing.assert_close(ctx, torch.tensor([[(1 - p) * 1 + p * 3]]))


@pytest.mark.parametrize("use_coverage", [False, True])
@pytest.mark.parametrize("use_mask", [False, True])
def test_additive_matches_naive_loop(use_coverage, use_mask):
    q, keys, values, mask, cov = _inputs()
    att = AdditiveAttention(DQ, DK, A, coverage=use_coverage).double()
    mask = mask if use_mask else None
    cov = cov if use_coverage else None
    ctx, w = att(q, keys, values, mask=mask, coverage=cov)
    ref_ctx, ref_w = _naive_additive(att, q, keys, values, mask, cov)
    torch.testing.assert_close(w, ref_w, atol=1e-12, rtol=1e-10)
    torch.testing.assert_close(ctx, ref_ctx, atol=1e-12, rtol=1e-10)


def _naive_luong(att, q, keys, mask):
    if att.mode == "dot":
        scores = torch.einsum("bd,bkd->bk", q, keys)
    elif att.mode == "general":
        scores = torch.einsum("bd,de,bke->bk", q, att.key_proj.weight, keys)
    else:  # v^T tanh(W [q; k]) with W = [W_q, W_k]
        W = torch.cat([att.query_proj.weight, att.key_proj.weight], dim=1)
        cat = torch.cat([q[:, None].expand(-1, keys.shape[1], -1), keys], dim=-1)
        scores = (torch.tanh(cat @ W.T + att.key_proj.bias) @ att.energy.weight.T).squeeze(-1)
    return masked_softmax(scores, mask)


@pytest.mark.parametrize("mode", ["dot", "general", "concat"])
def test_luong_matches_paper_formulas(mode):
    q, keys, values, mask, _ = _inputs()
    dk = DQ if mode == "dot" else DK
    keys = keys[..., :dk]
    att = LuongAttention(DQ, dk, mode=mode, hidden_dim=A if mode == "concat" else None).double()
    ctx, w = att(q, keys, values, mask=mask)
    ref_w = _naive_luong(att, q, keys, mask)
    torch.testing.assert_close(w, ref_w, atol=1e-12, rtol=1e-10)
    torch.testing.assert_close(ctx, torch.einsum("bk,bkv->bv", ref_w, values))
    assert (w[2] == 0).all() and (ctx[2] == 0).all()  # the fully masked row


def test_luong_dot_hand_computed():
    att = LuongAttention(2, 2, mode="dot")
    keys = torch.tensor([[[1.0, 0.0], [0.0, 1.0]]])
    _, w = att(torch.tensor([[math.log(3.0), 0.0]]), keys)  # scores log 3 and 0
    torch.testing.assert_close(w, torch.tensor([[0.75, 0.25]]))


@pytest.mark.parametrize(
    "make",
    [
        lambda: AdditiveAttention(DQ, DK, A, coverage=True),
        lambda: LuongAttention(DQ, DK, mode="general", coverage=True),
        lambda: LuongAttention(DQ, DK, mode="concat", hidden_dim=A, coverage=True),
    ],
)
def test_sequence_query_equals_step_by_step_and_precomputed_keys(make):
    att = make().double()
    _, keys, values, mask, _ = _inputs()
    qs = torch.randn(B, 4, DQ, dtype=torch.float64)  # (B, Lq, Dq)
    covs = torch.rand(B, 4, LK, dtype=torch.float64)
    ctx, w = att(qs, keys, values, mask=mask, coverage=covs)  # (B, Lq, Dv), (B, Lq, Lk)
    proj = att.precompute_keys(keys)
    for t in range(4):
        c_t, w_t = att(qs[:, t], keys, values, mask=mask, proj_keys=proj, coverage=covs[:, t])
        torch.testing.assert_close(c_t, ctx[:, t])
        torch.testing.assert_close(w_t, w[:, t])


@pytest.mark.parametrize(
    "make",
    [
        lambda: AdditiveAttention(DQ, DK, A, coverage=True),
        lambda: LuongAttention(DQ, DQ, mode="dot", coverage=True),
        lambda: LuongAttention(DQ, DK, mode="general", coverage=True),
        lambda: LuongAttention(DQ, DK, mode="concat", coverage=True),
    ],
)
def test_gradcheck_with_a_fully_masked_row(make):
    att = make().double()
    q, keys, values, mask, cov = _inputs()
    keys = keys[..., : att.key_dim]
    q.requires_grad_(True)
    keys.requires_grad_(True)
    values.requires_grad_(True)
    cov.requires_grad_(True)

    def f(q, keys, values, cov):
        return att(q, keys, values, mask=mask, coverage=cov)

    assert torch.autograd.gradcheck(f, (q, keys, values, cov))
    ctx, w = f(q, keys, values, cov)
    (ctx.sum() + w.sum()).backward()
    for t in (q, keys, values, cov):
        assert torch.isfinite(t.grad).all()
    assert (q.grad[2] == 0).all()  # nothing visible: nothing flows back to that query


def test_masked_keys_get_exactly_zero_weight():
    att = AdditiveAttention(DQ, DK, A)
    q, keys, values, mask, _ = _inputs(torch.float32)
    _, w = att(q, keys, values, mask=mask)
    assert (w[~mask] == 0).all()
    torch.testing.assert_close(w[:2].sum(-1), torch.ones(2))


def test_errors_are_clear():
    att = AdditiveAttention(DQ, DK, A)
    q, keys, values, mask, cov = _inputs(torch.float32)
    with pytest.raises(ValueError, match="query must be"):
        att(q[:, :2], keys)
    with pytest.raises(ValueError, match="keys must be"):
        att(q, keys[:2])
    with pytest.raises(ValueError, match="values must be"):
        att(q, keys, values[:, :2])
    with pytest.raises(ValueError, match="mask must be bool"):
        att(q, keys, mask=mask.float())
    with pytest.raises(ValueError, match="coverage=False"):
        att(q, keys, coverage=cov)
    with pytest.raises(ValueError, match="valid: dot, general, concat"):
        LuongAttention(4, 4, mode="cosine")
    with pytest.raises(ValueError, match="query_dim == key_dim"):
        LuongAttention(4, 5, mode="dot")


def test_coverage_loss_hand_computed_and_masked():
    w = torch.tensor([[0.5, 0.3, 0.2]])
    c = torch.tensor([[0.1, 0.9, 0.4]])
    torch.testing.assert_close(coverage_loss(w, c), torch.tensor([0.1 + 0.3 + 0.2]))
    m = torch.tensor([[True, True, False]])
    torch.testing.assert_close(coverage_loss(w, c, m), torch.tensor([0.4]))
    with pytest.raises(ValueError, match="must match"):
        coverage_loss(w, c[:, :2])


def test_masked_softmax_matches_softmax_on_visible_entries():
    scores = torch.randn(4, 6, dtype=torch.float64)
    mask = torch.rand(4, 6) > 0.4
    mask[0] = False
    mask[1] = True
    p = masked_softmax(scores, mask)
    for r in range(4):
        if mask[r].any():
            ref = torch.zeros(6, dtype=torch.float64)
            ref[mask[r]] = F.softmax(scores[r, mask[r]], dim=0)
            torch.testing.assert_close(p[r], ref)
        else:
            assert (p[r] == 0).all()
    scores.requires_grad_(True)
    assert torch.autograd.gradcheck(lambda s: masked_softmax(s, mask), (scores,))


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16, torch.float32])
def test_tanh_helper_equals_torch_tanh_values_and_gradient(dtype):
    """The chunked float32 tanh gives torch.tanh's values and gradient bit for bit, across a
    partial last chunk (19 rows = 2 x 8 + 3)."""
    from attnkit.attention.additive import tanh

    x = (3 * torch.randn(19, 2, 5, generator=torch.Generator().manual_seed(0))).to(dtype)
    ours, ref = x.clone().requires_grad_(), x.clone().requires_grad_()
    g = torch.randn(19, 2, 5, generator=torch.Generator().manual_seed(1)).to(dtype)
    y = tanh(ours)
    y.backward(g)
    torch.tanh(ref).backward(g)
    assert y.dtype == dtype
    assert torch.equal(y, torch.tanh(x))
    assert torch.equal(ours.grad, ref.grad)


def test_context_under_autocast_keeps_no_copy_of_the_values_per_step():
    """Under bf16 autocast every step's weighted sum uses the values as given: the tensors
    kept for backward over 6 steps hold no (B, Lk, Dv) copy of them, and the context equals
    the float32 one."""
    att = AdditiveAttention(query_dim=DQ, key_dim=DK, hidden_dim=A)
    keys = torch.randn(B, LK, DK)
    values = torch.randn(B, LK, DV, requires_grad=True)
    copies = []

    def pack(t):
        if t.shape == values.shape and t.data_ptr() != values.data_ptr():
            copies.append(t)
        return t

    hooks = torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t)
    with hooks, torch.autocast("cpu", dtype=torch.bfloat16):
        proj = att.precompute_keys(keys)
        outs = [att(torch.randn(B, DQ), keys, values, proj_keys=proj) for _ in range(6)]
    assert copies == []
    ctx, w = outs[-1]
    assert ctx.dtype == torch.float32
    torch.testing.assert_close(ctx, (w[:, None, :].float() @ values)[:, 0], rtol=0, atol=1e-6)


@pytest.mark.parametrize("make", ["additive", "concat"])
@pytest.mark.parametrize("use_coverage", [False, True])
@pytest.mark.parametrize("lq", [None, 3])
def test_scores_without_grad_equal_the_autograd_path(make, use_coverage, lq, monkeypatch):
    """Decoding (no grad) builds the tanh layer a few rows at a time: same context and
    weights as with gradients, for one-step and several-step queries, across chunks."""
    from attnkit.attention import additive

    monkeypatch.setattr(additive, "SCORE_CHUNK_ELEMENTS", 50)  # a chunk = 1 row here
    torch.manual_seed(0)
    if make == "additive":
        att = AdditiveAttention(query_dim=DQ, key_dim=DK, hidden_dim=A, coverage=use_coverage)
    else:
        att = LuongAttention(DQ, DK, mode="concat", hidden_dim=A, coverage=use_coverage)
    q, keys, values, mask, coverage = _inputs(torch.float32)
    if lq is not None:
        q = torch.randn(B, lq, DQ)
        coverage = torch.rand(B, lq, LK)
    kwargs = {"mask": mask, "coverage": coverage if use_coverage else None}
    with torch.no_grad():
        ctx, w = att(q, keys, values, **kwargs)
    ref_ctx, ref_w = att(q, keys, values, **kwargs)
    assert ref_ctx.requires_grad and not ctx.requires_grad
    torch.testing.assert_close(ctx, ref_ctx, rtol=0, atol=1e-6)
    torch.testing.assert_close(w, ref_w, rtol=0, atol=1e-6)
