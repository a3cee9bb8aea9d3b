"""Pointer / copy attention (Vinyals et al. 2015; See, Liu, Manning 2017, "Get To The Point").

A pointer-generator decoder predicts from an *extended* vocabulary: the ``V`` fixed words plus
the ``V_ext - V`` out-of-vocabulary words of the current source (each source OOV gets a
temporary id ``>= V``). Per step:

    P(w) = p_gen * P_vocab(w) + (1 - p_gen) * sum_{i: src_i = w} a_i

* :func:`copy_distribution` turns the attention ``a`` over source positions into a
  distribution over extended-vocabulary ids (repeated source words add up);
* :func:`mix` combines it with the generator's ``P_vocab`` (zero-padded to ``V_ext``);
* :class:`GenerationGate` computes ``p_gen = sigmoid(w_c^T c + w_s^T s + w_x^T x + b)``.

Notation for tensor shapes:
    B: batch, Lq: decoder steps (optional), Lk: source length, V: vocabulary,
    V_ext: extended vocabulary (V + source OOVs).

Example:
    >>> import torch
    >>> attn = torch.tensor([[0.5, 0.25, 0.25]])  # (B, Lk)
    >>> src = torch.tensor([[4, 7, 4]])  # extended ids; 7 is a source OOV (V = 6)
    >>> copy = copy_distribution(attn, src, extended_vocab_size=8)  # (B, V_ext)
    >>> copy[0, 4].item(), copy[0, 7].item()
    (0.75, 0.25)
    >>> final = mix(torch.tensor([[0.5]]), torch.full((1, 6), 1 / 6), copy)
    >>> round(final.sum().item(), 6)
    1.0
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

__all__ = ["GenerationGate", "copy_distribution", "mix"]


def copy_distribution(weights: Tensor, src_ids: Tensor, extended_vocab_size: int) -> Tensor:
    """Scatter attention weights onto the (extended) vocabulary ids of the source tokens.

    Args:
        weights: ``(B, Lk)`` or ``(B, Lq, Lk)`` attention over source positions (padding
            positions should carry 0 weight).
        src_ids: ``(B, Lk)`` long, each source token's id in the extended vocabulary.
        extended_vocab_size: ``V_ext``; every id must be ``< V_ext``.

    Returns:
        ``(B, V_ext)`` or ``(B, Lq, V_ext)``: the copy distribution (the weights of repeated
        source words are summed).

    Raises:
        ValueError: on mismatched shapes or an id outside ``[0, V_ext)``.

    Example:
        >>> copy_distribution(torch.tensor([[0.5, 0.5]]), torch.tensor([[1, 1]]), 3).tolist()
        [[0.0, 1.0, 0.0]]
    """
    if src_ids.dim() != 2 or src_ids.dtype != torch.long:
        raise ValueError(
            f"src_ids must be (B, Lk) long, got {tuple(src_ids.shape)} {src_ids.dtype}"
        )
    if (
        weights.dim() not in (2, 3)
        or weights.shape[0] != src_ids.shape[0]
        or (weights.shape[-1] != src_ids.shape[1])
    ):
        raise ValueError(
            f"weights must be (B, Lk) or (B, Lq, Lk) with (B, Lk) = {tuple(src_ids.shape)}, "
            f"got {tuple(weights.shape)}"
        )
    if src_ids.numel() and (int(src_ids.min()) < 0 or int(src_ids.max()) >= extended_vocab_size):
        raise ValueError(
            f"src_ids must lie in [0, {extended_vocab_size}), got range "
            f"[{int(src_ids.min())}, {int(src_ids.max())}]"
        )
    index = src_ids if weights.dim() == 2 else src_ids[:, None, :].expand_as(weights)
    out = weights.new_zeros((*weights.shape[:-1], extended_vocab_size))  # (B, [Lq,] V_ext)
    return out.scatter_add(-1, index, weights)


def mix(p_gen: Tensor, vocab_dist: Tensor, copy_dist: Tensor, *, log: bool = False) -> Tensor:
    """``p_gen * P_vocab + (1 - p_gen) * P_copy`` over the extended vocabulary.

    Args:
        p_gen: ``(B, [Lq,] 1)`` or ``(B, [Lq])`` generation probabilities in ``[0, 1]``.
        vocab_dist: ``(B, [Lq,] V)`` generator distribution (rows sum to 1).
        copy_dist: ``(B, [Lq,] V_ext)`` from :func:`copy_distribution`, ``V_ext >= V``.
        log: return log-probabilities, floored at the dtype's smallest normal number so that
            words with probability 0 give a large finite negative value, never ``-inf`` or a
            NaN gradient.

    Returns:
        ``(B, [Lq,] V_ext)`` probabilities (rows sum to 1) or their logs.

    Example:
        >>> mix(torch.tensor([1.0]), torch.tensor([[0.25, 0.75]]), torch.tensor([[0.0, 0.0, 1.0]]))
        tensor([[0.2500, 0.7500, 0.0000]])
    """
    V, V_ext = vocab_dist.shape[-1], copy_dist.shape[-1]
    if V_ext < V or vocab_dist.shape[:-1] != copy_dist.shape[:-1]:
        raise ValueError(
            f"vocab_dist (..., V) and copy_dist (..., V_ext >= V) must share leading dims, got "
            f"{tuple(vocab_dist.shape)} and {tuple(copy_dist.shape)}"
        )
    if p_gen.dim() == vocab_dist.dim() - 1:
        p_gen = p_gen.unsqueeze(-1)  # (B, [Lq,] 1)
    if p_gen.shape != (*vocab_dist.shape[:-1], 1):
        raise ValueError(
            f"p_gen must be {(*vocab_dist.shape[:-1], 1)} or without the last 1, got "
            f"{tuple(p_gen.shape)}"
        )
    gen = torch.nn.functional.pad(vocab_dist * p_gen, (0, V_ext - V))  # (B, [Lq,] V_ext)
    final = gen + (1.0 - p_gen) * copy_dist  # (B, [Lq,] V_ext)
    if log:
        return final.clamp_min(torch.finfo(final.dtype).tiny).log()
    return final


class GenerationGate(nn.Module):
    """``p_gen = sigmoid(w_c^T c + w_s^T s + w_x^T x + b)`` (See et al. 2017, eq. 8).

    Args:
        context_dim: size of the attention context ``c``.
        state_dim: size of the decoder state ``s``.
        input_dim: size of the decoder input ``x`` (the previous word's embedding).

    Example:
        >>> gate = GenerationGate(4, 3, 2)
        >>> gate(torch.randn(5, 4), torch.randn(5, 3), torch.randn(5, 2)).shape
        torch.Size([5, 1])
    """

    def __init__(self, context_dim: int, state_dim: int, input_dim: int) -> None:
        super().__init__()
        self.proj = nn.Linear(context_dim + state_dim + input_dim, 1)

    def forward(self, context: Tensor, state: Tensor, inp: Tensor) -> Tensor:
        """``(..., Dc), (..., Ds), (..., Dx) -> (..., 1)`` probabilities in ``(0, 1)``."""
        return torch.sigmoid(self.proj(torch.cat([context, state, inp], dim=-1)))
