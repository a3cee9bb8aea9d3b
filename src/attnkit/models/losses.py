"""Sequence losses.

Label smoothing: Szegedy et al. "Rethinking the Inception Architecture for Computer
Vision", CVPR 2016; used for NMT by Vaswani et al. 2017.
"""

from __future__ import annotations

import torch
from torch import Tensor

from attnkit.specials import PAD_ID


def label_smoothed_cross_entropy(
    logits: Tensor,
    target: Tensor,
    *,
    smoothing: float = 0.1,
    ignore_index: int = PAD_ID,
) -> tuple[Tensor, int]:
    """Summed label-smoothed cross-entropy over the non-padding targets.

    The target distribution is ``(1 - smoothing) * one_hot(y) + smoothing / V`` (uniform
    over all V classes, PyTorch's convention), so per token

        loss = (1 - smoothing) * -log p(y) + smoothing * mean_v(-log p(v)).

    Args:
        logits: (..., V) unnormalised scores (any float dtype; computed in float32).
        target: (...) gold ids; positions equal to ``ignore_index`` contribute nothing.
        smoothing: the mass moved to the uniform distribution, in [0, 1).
        ignore_index: the padding id (0).

    Returns:
        (loss, n_tokens): the summed loss (scalar tensor) and the number of
        non-padding targets, so that callers normalise as they wish (``loss / n_tokens``).

    Raises:
        ValueError: on mismatched shapes or a smoothing outside [0, 1).

    Example:
        >>> logits = torch.randn(2, 3, 10, requires_grad=True)  # (B, Lt, V)
        >>> tgt_out = torch.tensor([[5, 6, 0], [7, 0, 0]])  # 0 = padding
        >>> loss, n = label_smoothed_cross_entropy(logits, tgt_out, smoothing=0.1)
        >>> n
        3
        >>> (loss / max(n, 1)).backward()
    """
    if logits.shape[:-1] != target.shape:
        raise ValueError(
            f"logits (..., V) and target (...) disagree: {tuple(logits.shape)} vs "
            f"{tuple(target.shape)}"
        )
    if not 0.0 <= smoothing < 1.0:
        raise ValueError(f"smoothing must be in [0, 1), got {smoothing}")
    flat = logits.reshape(-1, logits.size(-1))  # (N, V)
    gold = target.reshape(-1)  # (N,)
    counted = gold != ignore_index  # (N,)
    bad = counted & ((gold < 0) | (gold >= flat.size(1)))
    if bool(bad.any()):
        raise ValueError(
            f"target ids must be in [0, {flat.size(1)}) (or {ignore_index}, ignored), "
            f"got {int(gold[bad][0])}"
        )
    loss = _SmoothedCrossEntropy.apply(flat, gold, counted, smoothing)
    return loss, int(counted.sum())


CHUNK_ELEMENTS = 1 << 23
"""Logits converted to float32 at a time (32 MB) by the fused loss, forward and backward."""


def _row_chunks(n_rows: int, vocab: int) -> list[slice]:
    """Slices of rows holding about CHUNK_ELEMENTS logits each."""
    rows = max(1, CHUNK_ELEMENTS // max(vocab, 1))
    return [slice(s, min(s + rows, n_rows)) for s in range(0, n_rows, rows)]


class _SmoothedCrossEntropy(torch.autograd.Function):
    """Summed label-smoothed cross-entropy of (N, V) logits, computed in float32 a chunk of
    rows at a time, whatever the logits' dtype.

    ``F.cross_entropy`` on bf16 logits needs a float32 copy of them, keeps its float32
    log-softmax for backward and makes a float32 gradient that is then cast back: four
    (N, V) tensors (a Bible batch: 5,850 x 4,000, 94 MB each in float32). Here only the
    logits themselves (their own dtype) and one log-sum-exp per row are kept; the gradient
    ``softmax(x) - target distribution`` is written straight in the logits' dtype.
    """

    @staticmethod
    def forward(ctx, flat: Tensor, gold: Tensor, counted: Tensor, smoothing: float) -> Tensor:
        N, V = flat.shape
        lse = flat.new_empty(N, dtype=torch.float32)  # (N,) log-sum-exp per row
        total = flat.new_zeros((), dtype=torch.float32)
        for e in _row_chunks(N, V):
            x = flat[e].float()  # (n, V)
            lse[e] = torch.logsumexp(x, dim=1)
            nll = lse[e] - x.gather(1, gold[e, None]).squeeze(1)  # -log p(y)
            per_token = (1.0 - smoothing) * nll
            if smoothing:
                per_token = per_token + smoothing * (lse[e] - x.mean(dim=1))  # mean_v -log p(v)
            total += per_token.masked_fill(~counted[e], 0.0).sum()
        ctx.save_for_backward(flat, gold, counted, lse)
        ctx.smoothing = smoothing
        return total

    @staticmethod
    def backward(ctx, grad_total: Tensor):
        flat, gold, counted, lse = ctx.saved_tensors
        N, V = flat.shape
        eps = ctx.smoothing
        grad = torch.empty_like(flat)
        g = grad_total.float()
        for e in _row_chunks(N, V):
            x = flat[e].to(torch.float32, copy=True)  # (n, V), overwritten below
            p = torch.exp(x.sub_(lse[e, None]))  # softmax, in x's memory
            if eps:
                p.sub_(eps / V)
            p.scatter_add_(1, gold[e, None], p.new_full((p.size(0), 1), eps - 1.0))
            p.mul_((g * counted[e].float())[:, None])  # padding rows: no gradient
            grad[e] = p
        return grad, None, None, None


__all__ = ["label_smoothed_cross_entropy"]
