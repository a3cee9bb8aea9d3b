"""attnkit.attention.masks against hand-written loops; converters; error messages."""

import pytest
import torch
import torch.nn.functional as F

from attnkit.attention import masks

# (Lq, Lk) pairs: square, Lq < Lk (KV cache / chunked prefill), Lq > Lk, empty.
SHAPES = [(1, 1), (4, 4), (5, 5), (2, 6), (1, 5), (6, 3), (5, 1), (0, 3), (3, 0), (0, 0)]


def _loop_causal(q_len: int, k_len: int) -> torch.Tensor:
    out = torch.zeros(q_len, k_len, dtype=torch.bool)
    for i in range(q_len):
        for j in range(k_len):
            out[i, j] = j <= i + (k_len - q_len)
    return out


def _loop_window(q_len: int, k_len: int, window: int, causal: bool) -> torch.Tensor:
    out = torch.zeros(q_len, k_len, dtype=torch.bool)
    for i in range(q_len):
        p = i + (k_len - q_len)  # the query's position among the keys
        for j in range(k_len):
            out[i, j] = (p - window < j <= p) if causal else abs(j - p) < window
    return out


# ------------------------------------------------------------------------------ padding_mask


@pytest.mark.parametrize(
    ("lengths", "max_len"),
    [([3, 1, 0, 2], None), ([3, 1, 0, 2], 6), ([0, 0], None), ([5], 5), ([], None), ([], 4)],
)
def test_padding_mask_matches_loop(lengths, max_len):
    got = masks.padding_mask(lengths, max_len)
    L = max(lengths, default=0) if max_len is None else max_len
    want = torch.zeros(len(lengths), L, dtype=torch.bool)
    for b, n in enumerate(lengths):
        for t in range(L):
            want[b, t] = t < n
    assert got.dtype == torch.bool
    assert got.shape == (len(lengths), L)
    assert torch.equal(got, want)
    # a tensor of lengths gives the same answer as a list
    as_tensor = masks.padding_mask(torch.tensor(lengths, dtype=torch.long), max_len)
    assert torch.equal(as_tensor, want)


def test_padding_mask_int32_lengths_and_counts():
    lengths = torch.tensor([4, 2, 7], dtype=torch.int32)
    got = masks.padding_mask(lengths, max_len=9)
    assert torch.equal(got.sum(dim=1), lengths.long())  # exactly `length` real tokens
    assert torch.equal(got, got.cummin(dim=1).values)  # real tokens are a prefix


@pytest.mark.parametrize(
    ("lengths", "max_len", "message"),
    [
        (torch.tensor([[1, 2]]), None, "lengths must be 1-D"),
        (torch.tensor(3), None, "lengths must be 1-D"),
        (torch.tensor([1.0, 2.0]), None, "lengths must be integers"),
        (torch.tensor([True, False]), None, "lengths must be integers"),
        ([2, -1], None, "lengths must be non-negative"),
        ([2, 5], 4, r"a length \(5\) exceeds max_len \(4\)"),
    ],
)
def test_padding_mask_errors(lengths, max_len, message):
    with pytest.raises(ValueError, match=message):
        masks.padding_mask(lengths, max_len)


# ------------------------------------------------------------------------------- causal_mask


@pytest.mark.parametrize(("q_len", "k_len"), SHAPES)
def test_causal_mask_bottom_right(q_len, k_len):
    got = masks.causal_mask(q_len, k_len)
    assert got.dtype == torch.bool and got.shape == (q_len, k_len)
    assert torch.equal(got, _loop_causal(q_len, k_len))
    if q_len and k_len and q_len <= k_len:
        assert bool(got[-1].all())  # the last query sees every key
    if q_len > k_len:
        # the first Lq - Lk queries see no key at all
        assert not bool(got[: q_len - k_len].any())


def test_causal_mask_square_is_lower_triangular_and_default_k_len():
    for n in range(6):
        want = torch.ones(n, n, dtype=torch.bool).tril()
        assert torch.equal(masks.causal_mask(n), want)
        assert torch.equal(masks.causal_mask(n, n), want)


def test_causal_mask_matches_torch_is_causal_for_square():
    """For Lq == Lk the mask reproduces torch's own is_causal=True."""
    q, k, v = torch.randn(3, 1, 2, 5, 4, dtype=torch.float64).unbind(0)
    ours = F.scaled_dot_product_attention(q, k, v, attn_mask=masks.causal_mask(5))
    ref = F.scaled_dot_product_attention(q, k, v, is_causal=True)
    torch.testing.assert_close(ours, ref, rtol=1e-12, atol=1e-12)


def test_causal_mask_is_suffix_of_longer_mask():
    """The rows of a chunk of queries are the last rows of the full square mask (KV cache)."""
    full = masks.causal_mask(7)
    for q_len in range(1, 8):
        for k_len in range(q_len, 8):
            # queries k_len - q_len .. k_len - 1 of a k_len-long sequence
            want = full[k_len - q_len : k_len, :k_len]
            assert torch.equal(masks.causal_mask(q_len, k_len), want)


def test_causal_mask_negative_length():
    with pytest.raises(ValueError, match="lengths must be non-negative"):
        masks.causal_mask(-1, 3)
    with pytest.raises(ValueError, match="lengths must be non-negative"):
        masks.causal_mask(2, -3)


# ----------------------------------------------------------------------- sliding_window_mask


@pytest.mark.parametrize(("q_len", "k_len"), SHAPES)
@pytest.mark.parametrize("window", [1, 2, 3, 10])
@pytest.mark.parametrize("causal", [True, False])
def test_sliding_window_mask_matches_loop(q_len, k_len, window, causal):
    got = masks.sliding_window_mask(q_len, k_len, window=window, causal=causal)
    assert got.dtype == torch.bool and got.shape == (q_len, k_len)
    assert torch.equal(got, _loop_window(q_len, k_len, window, causal))


def test_sliding_window_mask_relations():
    for q_len, k_len in SHAPES:
        causal = masks.causal_mask(q_len, k_len)
        # a window at least as long as the keys is just the causal mask
        big = masks.sliding_window_mask(q_len, k_len, window=max(k_len, 1), causal=True)
        assert torch.equal(big, causal)
        for w in (1, 2, 3):
            win = masks.sliding_window_mask(q_len, k_len, window=w, causal=True)
            assert not bool((win & ~causal).any())  # never sees the future
            assert bool((win.sum(-1) <= w).all())  # at most `window` keys
            both = masks.sliding_window_mask(q_len, k_len, window=w, causal=False)
            assert bool((both.sum(-1) <= 2 * w - 1).all())
            assert torch.equal(both & causal, win)  # the causal half of the two-sided window
    assert torch.equal(masks.sliding_window_mask(4, window=2), _loop_window(4, 4, 2, True))


def test_sliding_window_mask_bad_window():
    with pytest.raises(ValueError, match="window must be >= 1, got 0"):
        masks.sliding_window_mask(3, 3, window=0)
    with pytest.raises(ValueError, match="window must be >= 1, got -2"):
        masks.sliding_window_mask(3, window=-2, causal=False)


# --------------------------------------------------------------------- from_key_padding_mask


def test_from_key_padding_mask_bool():
    kpm = torch.tensor([[False, False, True, True], [False, True, False, False]])
    got = masks.from_key_padding_mask(kpm)
    assert got.dtype == torch.bool and got.shape == (2, 1, 1, 4)
    for b in range(2):
        for j in range(4):
            assert bool(got[b, 0, 0, j]) == (not bool(kpm[b, j]))


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.bfloat16])
def test_from_key_padding_mask_float(dtype):
    keep = torch.tensor([[True, False, True], [False, False, True]])
    additive = torch.zeros(2, 3, dtype=dtype).masked_fill(~keep, float("-inf"))
    got = masks.from_key_padding_mask(additive)
    assert got.dtype == torch.bool
    assert torch.equal(got, keep[:, None, None, :])
    # the bool and the float forms agree
    assert torch.equal(got, masks.from_key_padding_mask(~keep))


def test_from_key_padding_mask_float_finite_values_stay_visible():
    """Only -inf hides a key; finite additive values (a bias) leave it visible."""
    additive = torch.tensor([[0.0, -1e4, float("-inf"), 2.5, float("-inf")]])
    got = masks.from_key_padding_mask(additive)
    assert got.flatten().tolist() == [True, True, False, True, False]


def test_from_key_padding_mask_same_attention_as_torch():
    """torch's SDPA with the converted mask equals torch's MHA-style additive padding."""
    B, H, Lq, Lk, D = 2, 3, 4, 5, 6
    q = torch.randn(B, H, Lq, D, dtype=torch.float64)
    k, v = torch.randn(2, B, H, Lk, D, dtype=torch.float64).unbind(0)
    kpm = masks.padding_mask([5, 2], 5).logical_not()  # True = padding
    ours = F.scaled_dot_product_attention(q, k, v, attn_mask=masks.from_key_padding_mask(kpm))
    additive = torch.zeros(B, Lk, dtype=torch.float64).masked_fill(kpm, float("-inf"))
    ref = F.scaled_dot_product_attention(q, k, v, attn_mask=additive[:, None, None, :])
    torch.testing.assert_close(ours, ref, rtol=1e-12, atol=1e-12)


def test_from_key_padding_mask_errors():
    with pytest.raises(ValueError, match=r"key_padding_mask must be \(B, Lk\), got shape \(3,\)"):
        masks.from_key_padding_mask(torch.zeros(3, dtype=torch.bool))
    with pytest.raises(ValueError, match=r"must be \(B, Lk\), got shape \(1, 2, 3\)"):
        masks.from_key_padding_mask(torch.zeros(1, 2, 3, dtype=torch.bool))
    with pytest.raises(
        ValueError, match=r"key_padding_mask must be bool or float, got torch.int64"
    ):
        masks.from_key_padding_mask(torch.zeros(2, 3, dtype=torch.long))


# ------------------------------------------------------------------------------- to_additive


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.float16, torch.bfloat16])
def test_to_additive(dtype):
    mask = torch.rand(2, 3, 4, 5) > 0.5
    got = masks.to_additive(mask, dtype)
    assert got.dtype == dtype and got.shape == mask.shape
    for idx in torch.cartesian_prod(*(torch.arange(n) for n in mask.shape)).tolist():
        value = float(got[tuple(idx)])
        assert value == (0.0 if bool(mask[tuple(idx)]) else float("-inf"))
    # the additive form round-trips through from_key_padding_mask
    flat = mask[:, 0, 0, :]  # (B, Lk) with B=2, Lk=5
    back = masks.from_key_padding_mask(masks.to_additive(flat, dtype))
    assert torch.equal(back, flat[:, None, None, :])


def test_to_additive_default_dtype_and_same_attention():
    mask = masks.causal_mask(3, 5)
    add = masks.to_additive(mask)
    assert add.dtype == torch.float32
    q, k, v = torch.randn(1, 1, 3, 4), torch.randn(1, 1, 5, 4), torch.randn(1, 1, 5, 4)
    ref = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
    torch.testing.assert_close(
        F.scaled_dot_product_attention(q, k, v, attn_mask=add), ref, rtol=1e-6, atol=1e-6
    )


def test_to_additive_errors():
    with pytest.raises(ValueError, match=r"mask must be bool .*got torch.float32"):
        masks.to_additive(torch.zeros(2, 2))
    with pytest.raises(ValueError, match=r"dtype must be a floating dtype, got torch.int64"):
        masks.to_additive(torch.ones(2, 2, dtype=torch.bool), torch.long)


# ----------------------------------------------------------------------------------- combine


def test_combine_broadcasts_and_intersects():
    pad = masks.padding_mask([3, 2], 4)[:, None, None, :]  # (B, 1, 1, Lk)
    causal = masks.causal_mask(3, 4)  # (Lq, Lk)
    head = torch.tensor([True, False, True])[None, :, None, None]  # (1, H, 1, 1)
    got = masks.combine(pad, None, causal, head)
    assert got.shape == (2, 3, 3, 4)
    for b in range(2):
        for h in range(3):
            for i in range(3):
                for j in range(4):
                    want = bool(pad[b, 0, 0, j]) and bool(causal[i, j]) and bool(head[0, h, 0, 0])
                    assert bool(got[b, h, i, j]) == want


def test_combine_none_and_single():
    assert masks.combine() is None
    assert masks.combine(None, None) is None
    m = torch.tensor([[True, False]])
    assert torch.equal(masks.combine(None, m), m)
    assert torch.equal(masks.combine(m, m), m)


def test_combine_errors():
    with pytest.raises(ValueError, match=r"masks must be bool .*got torch.float32"):
        masks.combine(torch.ones(2, dtype=torch.bool), torch.zeros(2))
    with pytest.raises(ValueError, match=r"masks must be bool .*got torch.int64"):
        masks.combine(torch.ones(2, dtype=torch.long))
    with pytest.raises(RuntimeError):  # shapes that do not broadcast
        masks.combine(torch.ones(2, dtype=torch.bool), torch.ones(3, dtype=torch.bool))
