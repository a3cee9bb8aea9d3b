"""Length penalty, n-gram blocking and a cap on repeated tokens, for greedy and beam search."""

from __future__ import annotations

import torch
from torch import Tensor


def gnmt_length_penalty(length: int | float | Tensor, alpha: float) -> float | Tensor:
    """GNMT length penalty ``((5 + length) / 6) ** alpha`` (Wu et al. 2016, eq. 14).

    Scores are divided by it; ``alpha = 0`` gives 1 (raw log-probabilities).
    """
    return ((5.0 + length) / 6.0) ** alpha


def repeated_attention_penalty(attention: Tensor, beta: float) -> float:
    """``beta * sum_i max(c_i - 1, 0)`` with ``c = attention.sum(0)``: the attention a source
    position received beyond a total of 1 (Gehrmann et al. 2018's summarization coverage
    penalty), subtracted from a finished hypothesis' score.

    Args:
        attention: (Lt, Ls) the hypothesis' attention, one row per output token.
        beta: the weight (0 = off).

    Example:
        >>> repeated_attention_penalty(torch.tensor([[1.0, 0.0], [0.5, 0.5]]), beta=2.0)
        1.0
    """
    if not beta or attention.numel() == 0:
        return 0.0
    return beta * float((attention.float().sum(0) - 1.0).clamp_min(0.0).sum())


def block_repeated_ngrams(log_probs: Tensor, history: Tensor, n: int) -> Tensor:
    """Forbid tokens that would repeat an n-gram already in each row's history.

    Args:
        log_probs: (B, V) next-token log-probabilities; modified in place and returned.
        history: (B, t) tokens generated so far (no BOS).
        n: the n-gram size (>= 1).

    Returns:
        ``log_probs`` with -inf at the blocked tokens.
    """
    t = history.size(1)
    if n < 1 or t < n:
        return log_probs
    if n == 1:
        blocked = history  # (B, t): every token seen
        match = torch.ones_like(history, dtype=torch.bool)
    else:
        windows = history.unfold(1, n, 1)  # (B, t - n + 1, n)
        prefix = history[:, t - n + 1 :]  # (B, n - 1): the current last n-1 tokens
        match = (windows[:, :, : n - 1] == prefix[:, None, :]).all(dim=-1)  # (B, W)
        blocked = windows[:, :, n - 1]  # (B, W)
    hits = torch.zeros_like(log_probs).scatter_add_(1, blocked, match.to(log_probs.dtype))
    return log_probs.masked_fill_(hits > 0, float("-inf"))


def block_loops(log_probs: Tensor, history: Tensor, max_run: int, max_span: int = 4) -> Tensor:
    """Forbid the token that would start another copy of a pattern already repeated
    ``max_run`` times in a row at the end of the output.

    The guard against an undertrained model's loops: "l' l' l' l' ..." (with subwords, the
    pattern ``▁l '`` of two tokens) or "de la de la de la". A pattern is 1 to ``max_span``
    tokens long.

    Args:
        log_probs: (B, V) next-token log-probabilities; modified in place and returned.
        history: (B, t) tokens generated so far (no BOS).
        max_run: how many times in a row a pattern may appear (>= 1).
        max_span: the longest pattern looked for.

    Example:
        >>> lp = torch.zeros(3, 6)
        >>> hist = torch.tensor([[1, 1, 4, 4], [5, 4, 5, 4], [4, 1, 4, 2]])
        >>> out = block_loops(lp, hist, max_run=2)
        >>> (out == float("-inf")).nonzero().tolist()  # ..4 4: not 4 again; 5 4 5 4: not 5
        [[0, 4], [1, 5]]
    """
    if max_run < 1:
        return log_probs
    t = history.size(1)
    for span in range(1, max_span + 1):
        if span * max_run > t:
            break
        tail = history[:, t - span * max_run :].reshape(-1, max_run, span)  # (B, runs, span)
        looping = (tail == tail[:, :1]).all(dim=2).all(dim=1)  # (B,) one pattern, max_run times
        rows = looping.nonzero().squeeze(1)
        if rows.numel():
            log_probs[rows, tail[rows, 0, 0]] = float("-inf")  # the first token of the pattern
    return log_probs
