"""The vocabulary log-probabilities of a decoding step, the projection optionally in bfloat16.

At each search step a translator multiplies its (rows, A) attentional vectors by the
(V, A) output matrix: the largest matmul of the step (beam 5 over 64 sentences: 320 x 256
by 256 x 4,000). On a CPU with native bfloat16 (AVX512-BF16 / AMX) that product runs about
4x faster in bfloat16 (``attnkit bench peers``'s decode rows). Inside
:func:`bf16_logits` the step's models compute it with a bfloat16 copy of the weight (made
once per weight version and kept) and return float32 logits; outside it, in float32 as
always. Training, teacher forcing and exported graphs never enter it. The log-softmax is
written over the fresh logits (without gradients): one (rows, V) tensor a step, not two.

Example:
    >>> import torch
    >>> layer = torch.nn.Linear(8, 5, bias=False)
    >>> x = torch.randn(3, 8)  # (B, A)
    >>> with torch.no_grad():
    ...     exact = step_log_probs(layer, x)
    ...     with bf16_logits():
    ...         fast = step_log_probs(layer, x)
    >>> torch.equal(exact, torch.log_softmax(layer(x), -1).detach())
    True
    >>> fast.dtype, bool(torch.allclose(fast, exact, atol=0.05))
    (torch.float32, True)
"""

from __future__ import annotations

import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

import torch
import torch.nn.functional as F
from torch import Tensor, nn

_BF16 = ContextVar("attnkit_bf16_logits", default=False)
_WEIGHTS: dict[int, tuple[weakref.ref, int, Tensor]] = {}
"""id(weight) -> (the weight, its ``_version`` then, its bfloat16 copy); an entry leaves
with its weight."""


@contextmanager
def bf16_logits(enabled: bool = True) -> Iterator[None]:
    """Within this block, :func:`step_log_probs` multiplies in bfloat16 (``enabled=False``: a
    no-op, so callers can pass a setting straight through)."""
    token = _BF16.set(enabled)
    try:
        yield
    finally:
        _BF16.reset(token)


def step_log_probs(layer: nn.Linear, x: Tensor) -> Tensor:
    """``log_softmax(layer(x))`` in float32 (B, V) for one decoding step; the product in
    bfloat16 inside :func:`bf16_logits` (float32 accumulation, float32 bias)."""
    if _BF16.get():
        logits = F.linear(x.to(torch.bfloat16), _bf16_copy(layer.weight)).float()  # (B, V)
        if layer.bias is not None:
            logits += layer.bias.float()
    else:
        logits = layer(x).float()  # (B, V)
    if logits.requires_grad:
        return torch.log_softmax(logits, dim=-1)
    return torch.log_softmax(logits, dim=-1, out=logits)  # row by row: the same values


def _bf16_copy(weight: Tensor) -> Tensor:
    """``weight`` in bfloat16, remade only after the weight changed (an optimizer step)."""
    key = id(weight)
    cached = _WEIGHTS.get(key)
    if cached is None or cached[0]() is not weight or cached[1] != weight._version:
        gone = weakref.ref(weight, lambda _: _WEIGHTS.pop(key, None))
        cached = (gone, weight._version, weight.detach().to(torch.bfloat16))
        _WEIGHTS[key] = cached
    return cached[2]


__all__ = ["bf16_logits", "step_log_probs"]
