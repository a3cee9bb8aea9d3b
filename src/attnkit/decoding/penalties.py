"""Length penalty, n-gram blocking and a cap on repeated tokens, for greedy and beam search."""

from __future__ import annotations

import torch
from torch import Tensor


def gnmt_length_penalty(length: int | float | Tensor, alpha: float) -> float | Tensor:
    """GNMT length penalty ``((5 + length) / 6) ** alpha`` (Wu et al. 2016, eq. 14).

    Scores are divided by it; ``alpha = 0`` gives 1 (raw log-probabilities).
    """
    return ((5.0 + length) / 6.0) ** alpha


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


def block_token_runs(log_probs: Tensor, history: Tensor, max_run: int) -> Tensor:
    """Forbid the token that would repeat the last one ``max_run + 1`` times in a row.

    The guard against an undertrained model's loops ("l' l' l' l' ..."): a row whose last
    ``max_run`` tokens are all ``t`` may not emit ``t`` again.

    Args:
        log_probs: (B, V) next-token log-probabilities; modified in place and returned.
        history: (B, t) tokens generated so far (no BOS).
        max_run: how many times in a row a token may appear (>= 1).

    Example:
        >>> lp = torch.zeros(2, 5)
        >>> out = block_token_runs(lp, torch.tensor([[1, 4, 4], [4, 1, 4]]), 2)
        >>> out[:, 4].tolist()
        [-inf, 0.0]
    """
    if max_run < 1 or history.size(1) < max_run:
        return log_probs
    tail = history[:, -max_run:]  # (B, max_run)
    run = (tail == tail[:, -1:]).all(dim=1)  # (B,) the last max_run tokens are one token
    rows = run.nonzero().squeeze(1)
    if rows.numel():
        log_probs[rows, tail[rows, -1]] = float("-inf")
    return log_probs
