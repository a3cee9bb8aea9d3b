"""Linear-chain conditional random field with batched tensor ops.

Lafferty, McCallum and Pereira, "Conditional Random Fields", ICML 2001; used on top of a
BiLSTM by Huang, Xu and Yu, "Bidirectional LSTM-CRF Models for Sequence Tagging", 2015.

Notation for tensor shapes: B batch, L sequence length, T number of tags.

Masks are boolean ``(B, L)`` with True on real tokens; every sequence must be left-aligned
(its real tokens first) and non-empty (``mask[:, 0]`` all True). The log-partition uses the
forward algorithm, decoding uses Viterbi; both loop over time only, with batched ops over
the batch and tags. Padded steps carry the state through unchanged.

Example:
    >>> import torch
    >>> crf = CRF(num_tags=3)
    >>> emissions = torch.randn(2, 4, 3)
    >>> mask = torch.tensor([[1, 1, 1, 1], [1, 1, 0, 0]], dtype=torch.bool)
    >>> nll = crf(emissions, torch.zeros(2, 4, dtype=torch.long), mask)
    >>> [len(p) for p in crf.decode(emissions, mask)]
    [4, 2]
"""

from __future__ import annotations

import torch
from torch import Tensor, nn


class CRF(nn.Module):
    """Linear-chain CRF: ``score(y) = start[y0] + sum_t emit[t, y_t] + sum_t trans[y_{t-1}, y_t]
    + end[y_last]``.

    Args:
        num_tags: number of tags T.

    Attributes:
        transitions: ``(T, T)`` score of moving from tag i (row) to tag j (column).
        start: ``(T,)`` score of starting a sequence with each tag.
        end: ``(T,)`` score of ending a sequence with each tag.
    """

    def __init__(self, num_tags: int) -> None:
        super().__init__()
        if num_tags < 1:
            raise ValueError(f"num_tags must be >= 1, got {num_tags}")
        self.num_tags = num_tags
        self.transitions = nn.Parameter(torch.empty(num_tags, num_tags))
        self.start = nn.Parameter(torch.empty(num_tags))
        self.end = nn.Parameter(torch.empty(num_tags))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        nn.init.uniform_(self.transitions, -0.1, 0.1)
        nn.init.uniform_(self.start, -0.1, 0.1)
        nn.init.uniform_(self.end, -0.1, 0.1)

    def _check(self, emissions: Tensor, mask: Tensor | None) -> Tensor:
        if emissions.dim() != 3 or emissions.size(-1) != self.num_tags:
            raise ValueError(
                f"emissions must be (B, L, {self.num_tags}), got {tuple(emissions.shape)}"
            )
        B, L, _ = emissions.shape
        if mask is None:
            return torch.ones(B, L, dtype=torch.bool, device=emissions.device)
        if mask.shape != (B, L):
            raise ValueError(f"mask must be {(B, L)}, got {tuple(mask.shape)}")
        mask = mask.bool()
        if L > 0 and not bool(mask[:, 0].all()):
            raise ValueError("every sequence needs at least one real token (mask[:, 0] all True)")
        return mask

    def score(self, emissions: Tensor, tags: Tensor, mask: Tensor | None = None) -> Tensor:
        """Unnormalised score of the given tag paths.

        Args:
            emissions: ``(B, L, T)``.
            tags: ``(B, L)`` long (values at padded positions are ignored).
            mask: ``(B, L)`` bool, True = real token.

        Returns:
            ``(B,)`` path scores.
        """
        mask = self._check(emissions, mask)
        tags = tags.masked_fill(~mask, 0)  # padded tags may be anything, e.g. -100
        m = mask.to(emissions.dtype)  # (B, L)
        emit = emissions.gather(2, tags.unsqueeze(-1)).squeeze(-1)  # (B, L)
        trans = self.transitions[tags[:, :-1], tags[:, 1:]]  # (B, L-1)
        lengths = mask.sum(1)  # (B,)
        last = tags.gather(1, (lengths - 1).unsqueeze(1)).squeeze(1)  # (B,)
        return (
            self.start[tags[:, 0]] + (emit * m).sum(1) + (trans * m[:, 1:]).sum(1) + self.end[last]
        )

    def log_partition(self, emissions: Tensor, mask: Tensor | None = None) -> Tensor:
        """``log Z``: log-sum-exp of the scores of all tag paths (forward algorithm).

        Args:
            emissions: ``(B, L, T)``.
            mask: ``(B, L)`` bool.

        Returns:
            ``(B,)``.
        """
        mask = self._check(emissions, mask)
        alpha = self.start + emissions[:, 0]  # (B, T)
        for t in range(1, emissions.size(1)):
            # alpha[b, i] + trans[i, j] summed over i  -> (B, T)
            nxt = torch.logsumexp(alpha.unsqueeze(2) + self.transitions, dim=1) + emissions[:, t]
            alpha = torch.where(mask[:, t].unsqueeze(1), nxt, alpha)
        return torch.logsumexp(alpha + self.end, dim=1)

    def log_likelihood(self, emissions: Tensor, tags: Tensor, mask: Tensor | None = None) -> Tensor:
        """``log p(tags | emissions)`` per sequence, ``(B,)``."""
        return self.score(emissions, tags, mask) - self.log_partition(emissions, mask)

    def forward(
        self,
        emissions: Tensor,
        tags: Tensor,
        mask: Tensor | None = None,
        *,
        reduction: str = "sum",
    ) -> Tensor:
        """Negative log-likelihood of ``tags``.

        Args:
            emissions: ``(B, L, T)``.
            tags: ``(B, L)`` long.
            mask: ``(B, L)`` bool, True = real token.
            reduction: "sum", "mean" (over sequences), "token_mean" (over real tokens) or "none".

        Returns:
            A scalar, or ``(B,)`` for "none".
        """
        nll = -self.log_likelihood(emissions, tags, mask)
        if reduction == "none":
            return nll
        if reduction == "sum":
            return nll.sum()
        if reduction == "mean":
            return nll.mean()
        if reduction == "token_mean":
            n = mask.sum() if mask is not None else tags.numel()
            return nll.sum() / n
        raise ValueError(f"reduction must be one of none/sum/mean/token_mean, got {reduction!r}")

    @torch.no_grad()
    def decode(self, emissions: Tensor, mask: Tensor | None = None) -> list[list[int]]:
        """Viterbi: the highest-scoring tag path of each sequence.

        Args:
            emissions: ``(B, L, T)``.
            mask: ``(B, L)`` bool.

        Returns:
            B lists of tag ids, each as long as its sequence.
        """
        mask = self._check(emissions, mask)
        B, L, T = emissions.shape
        if L == 0:
            return [[] for _ in range(B)]
        score = self.start + emissions[:, 0]  # (B, T)
        identity = torch.arange(T, device=emissions.device).expand(B, T)
        backpointers = []
        for t in range(1, L):
            cand = score.unsqueeze(2) + self.transitions  # (B, T_prev, T)
            best, idx = cand.max(dim=1)  # (B, T)
            keep = mask[:, t].unsqueeze(1)  # (B, 1)
            score = torch.where(keep, best + emissions[:, t], score)
            # Padded steps point every tag to itself, so backtracking passes through them.
            backpointers.append(torch.where(keep, idx, identity))
        last = (score + self.end).argmax(dim=1)  # (B,)
        path = [last]
        for bp in reversed(backpointers):
            last = bp.gather(1, last.unsqueeze(1)).squeeze(1)
            path.append(last)
        full = torch.stack(path[::-1], dim=1)  # (B, L)
        lengths = mask.sum(1).tolist()
        return [full[b, : lengths[b]].tolist() for b in range(B)]
