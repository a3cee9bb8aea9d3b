"""attnkit.attention: the attention layers, one mechanism per module.

=====================  ==========================================================
module                 what it holds
=====================  ==========================================================
``masks``              padding / causal / window masks (bool, ``True`` = may attend)
``sdpa``               :func:`scaled_dot_product_attention`: fused, eager, chunked
``multihead``          :class:`MultiHeadAttention` (self/cross, GQA) and :class:`KVCache`
``additive``           :class:`AdditiveAttention` (Bahdanau), :class:`LuongAttention`, coverage
``gating``             :class:`GatedUnit` (GLU family), :class:`GatedResidual` (highway "jump")
``pointer``            copy distribution, generation/copy mixing, :class:`GenerationGate`
``memory``             :class:`MemoryAttention` (MemN2N hops)
``squeeze_excite``     :class:`SqueezeExcitation` (channel attention)
=====================  ==========================================================

Layers are also made by name with :func:`get_attention` (a bad name lists the valid ones).

Example:
    >>> import torch
    >>> from attnkit.attention import get_attention
    >>> se = get_attention("se")(16)
    >>> se(torch.randn(1, 16, 4, 4)).shape
    torch.Size([1, 16, 4, 4])
"""

from __future__ import annotations

from torch import nn

from attnkit.attention import masks, pointer
from attnkit.attention.additive import AdditiveAttention, LuongAttention, coverage_loss
from attnkit.attention.gating import GatedResidual, GatedUnit
from attnkit.attention.memory import MemoryAttention
from attnkit.attention.multihead import KVCache, MultiHeadAttention
from attnkit.attention.pointer import GenerationGate, copy_distribution, mix
from attnkit.attention.sdpa import scaled_dot_product_attention
from attnkit.attention.squeeze_excite import SqueezeExcitation

__all__ = [
    "ATTENTION_LAYERS",
    "AdditiveAttention",
    "GatedResidual",
    "GatedUnit",
    "GenerationGate",
    "KVCache",
    "LuongAttention",
    "MemoryAttention",
    "MultiHeadAttention",
    "SqueezeExcitation",
    "copy_distribution",
    "coverage_loss",
    "get_attention",
    "masks",
    "mix",
    "pointer",
    "scaled_dot_product_attention",
]

ATTENTION_LAYERS: dict[str, type[nn.Module]] = {
    "multihead": MultiHeadAttention,
    "bahdanau": AdditiveAttention,
    "additive": AdditiveAttention,
    "luong": LuongAttention,
    "glu": GatedUnit,
    "gated_residual": GatedResidual,
    "memory": MemoryAttention,
    "se": SqueezeExcitation,
}


def get_attention(name: str) -> type[nn.Module]:
    """The attention layer class registered under ``name``.

    Args:
        name: one of ``ATTENTION_LAYERS`` (case-insensitive).

    Raises:
        ValueError: unknown name; the message lists the valid ones.

    Example:
        >>> get_attention("bahdanau").__name__
        'AdditiveAttention'
    """
    key = name.lower()
    if key not in ATTENTION_LAYERS:
        raise ValueError(
            f"unknown attention layer {name!r}; valid: {', '.join(sorted(ATTENTION_LAYERS))}"
        )
    return ATTENTION_LAYERS[key]
