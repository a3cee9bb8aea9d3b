"""Attention masks with one convention: boolean, ``True`` means "may attend".

This is the polarity of :func:`torch.nn.functional.scaled_dot_product_attention`'s
boolean ``attn_mask``. Every mask here is broadcastable to ``(B, H, Lq, Lk)`` and
masks combine with ``&`` (see :func:`combine`). Converters exist for the other
conventions: PyTorch's ``key_padding_mask`` (``True`` = ignore) and additive float
masks (``0`` / ``-inf``).

Notation for tensor shapes:
    B: batch size, H: heads, Lq: query length, Lk: key length, L: sequence length.

Example:
    >>> import torch
    >>> from attnkit.attention import masks
    >>> pad = masks.padding_mask(torch.tensor([2, 3]))  # (B, L)
    >>> pad.tolist()
    [[True, True, False], [True, True, True]]
    >>> m = masks.combine(pad[:, None, None, :], masks.causal_mask(3, 3))  # (B, 1, 3, 3)
    >>> m.shape
    torch.Size([2, 1, 3, 3])
"""

from __future__ import annotations

import torch
from torch import Tensor

__all__ = [
    "causal_mask",
    "combine",
    "from_key_padding_mask",
    "masked_softmax",
    "padding_mask",
    "sliding_window_mask",
    "to_additive",
]


def padding_mask(lengths: Tensor | list[int], max_len: int | None = None) -> Tensor:
    """Boolean mask of real tokens from sequence lengths.

    Args:
        lengths: ``(B,)`` integer lengths (a tensor or a list of ints).
        max_len: padded length ``L``; defaults to ``max(lengths)`` (0 for an empty batch).

    Returns:
        ``(B, L)`` bool tensor, ``True`` at positions ``< lengths[b]`` (real tokens).
        Use ``mask[:, None, None, :]`` as a ``(B, 1, 1, Lk)`` key mask.

    Raises:
        ValueError: if ``lengths`` is not 1-D, has a negative entry or exceeds ``max_len``.

    Example:
        >>> padding_mask([1, 2], max_len=3).tolist()
        [[True, False, False], [True, True, False]]
    """
    if not isinstance(lengths, Tensor) and len(lengths) == 0:
        lengths = torch.zeros(0, dtype=torch.long)  # torch.as_tensor([]) would be float32
    lengths = torch.as_tensor(lengths)
    if lengths.dim() != 1:
        raise ValueError(f"lengths must be 1-D (B,), got shape {tuple(lengths.shape)}")
    if lengths.is_floating_point() or lengths.dtype == torch.bool:
        raise ValueError(f"lengths must be integers, got dtype {lengths.dtype}")
    if lengths.numel() and int(lengths.min()) < 0:
        raise ValueError("lengths must be non-negative")
    longest = int(lengths.max()) if lengths.numel() else 0
    if max_len is None:
        max_len = longest
    elif longest > max_len:
        raise ValueError(f"a length ({longest}) exceeds max_len ({max_len})")
    positions = torch.arange(max_len, device=lengths.device)  # (L,)
    return positions[None, :] < lengths[:, None]  # (B, L)


def causal_mask(
    q_len: int, k_len: int | None = None, device: torch.device | str | None = None
) -> Tensor:
    """Causal mask aligned bottom-right.

    Query ``i`` may see key ``j`` when ``j <= i + (Lk - Lq)``: the last query sees every
    key, which is what a KV cache or chunked prefill needs. For ``Lq > Lk`` the first
    ``Lq - Lk`` queries see no key (their output is zero, see
    :func:`attnkit.attention.scaled_dot_product_attention`).

    Args:
        q_len: ``Lq``.
        k_len: ``Lk``; defaults to ``q_len``.
        device: device of the result.

    Returns:
        ``(Lq, Lk)`` bool tensor.

    Example:
        >>> causal_mask(2, 3).int().tolist()
        [[1, 1, 0], [1, 1, 1]]
    """
    if k_len is None:
        k_len = q_len
    if q_len < 0 or k_len < 0:
        raise ValueError(f"lengths must be non-negative, got q_len={q_len}, k_len={k_len}")
    i = torch.arange(q_len, device=device)[:, None]  # (Lq, 1)
    j = torch.arange(k_len, device=device)[None, :]  # (1, Lk)
    return j <= i + (k_len - q_len)  # (Lq, Lk)


def sliding_window_mask(
    q_len: int,
    k_len: int | None = None,
    *,
    window: int,
    causal: bool = True,
    device: torch.device | str | None = None,
) -> Tensor:
    """Local attention: each query sees keys within ``window`` positions (bottom-right aligned).

    With query ``i`` placed at key position ``p = i + (Lk - Lq)``, key ``j`` is visible when
    ``p - window < j <= p`` (``causal=True``, ``window`` keys including itself) or
    ``|j - p| < window`` (``causal=False``, ``2 * window - 1`` keys).

    Args:
        q_len: ``Lq``.
        k_len: ``Lk``; defaults to ``q_len``.
        window: window size, ``>= 1``.
        causal: only look back (True) or both ways (False).
        device: device of the result.

    Returns:
        ``(Lq, Lk)`` bool tensor.

    Example:
        >>> sliding_window_mask(3, window=2).int().tolist()
        [[1, 0, 0], [1, 1, 0], [0, 1, 1]]
    """
    if window < 1:
        raise ValueError(f"window must be >= 1, got {window}")
    if k_len is None:
        k_len = q_len
    pos = torch.arange(q_len, device=device)[:, None] + (k_len - q_len)  # (Lq, 1)
    j = torch.arange(k_len, device=device)[None, :]  # (1, Lk)
    if causal:
        return (j <= pos) & (j > pos - window)
    return (j - pos).abs() < window


def from_key_padding_mask(key_padding_mask: Tensor) -> Tensor:
    """Convert PyTorch's ``key_padding_mask`` (``True`` = ignore) to attnkit's convention.

    Args:
        key_padding_mask: ``(B, Lk)`` bool (``True`` = padding, ignored) or an additive
            float mask (``-inf`` = ignored), as :class:`torch.nn.MultiheadAttention` takes.

    Returns:
        ``(B, 1, 1, Lk)`` bool, ``True`` = may attend; broadcastable to ``(B, H, Lq, Lk)``.

    Example:
        >>> from_key_padding_mask(torch.tensor([[False, True]])).flatten().tolist()
        [True, False]
    """
    if key_padding_mask.dim() != 2:
        raise ValueError(
            f"key_padding_mask must be (B, Lk), got shape {tuple(key_padding_mask.shape)}"
        )
    if key_padding_mask.dtype == torch.bool:
        keep = ~key_padding_mask
    elif key_padding_mask.is_floating_point():
        keep = key_padding_mask != float("-inf")
    else:
        raise ValueError(f"key_padding_mask must be bool or float, got {key_padding_mask.dtype}")
    return keep[:, None, None, :]  # (B, 1, 1, Lk)


def to_additive(mask: Tensor, dtype: torch.dtype = torch.float32) -> Tensor:
    """Turn a bool mask (``True`` = may attend) into an additive float mask.

    Args:
        mask: bool tensor of any shape.
        dtype: floating dtype of the result.

    Returns:
        Tensor of ``mask``'s shape: ``0`` where ``True``, ``-inf`` where ``False``.

    Example:
        >>> to_additive(torch.tensor([True, False])).tolist()
        [0.0, -inf]
    """
    if mask.dtype != torch.bool:
        raise ValueError(f"mask must be bool (True = may attend), got {mask.dtype}")
    if not dtype.is_floating_point:
        raise ValueError(f"dtype must be a floating dtype, got {dtype}")
    out = torch.zeros(mask.shape, dtype=dtype, device=mask.device)
    return out.masked_fill_(~mask, float("-inf"))


def combine(*masks: Tensor | None) -> Tensor | None:
    """Intersect bool masks (logical AND, with broadcasting); ``None`` entries are skipped.

    Args:
        *masks: bool masks broadcastable to one shape, or ``None``.

    Returns:
        The broadcast AND of the given masks, or ``None`` if all were ``None``.

    Example:
        >>> combine(causal_mask(2), None, torch.tensor([True, False])).int().tolist()
        [[1, 0], [1, 0]]
    """
    out: Tensor | None = None
    for m in masks:
        if m is None:
            continue
        if m.dtype != torch.bool:
            raise ValueError(f"masks must be bool (True = may attend), got {m.dtype}")
        out = m if out is None else out & m
    return out


def masked_softmax(scores: Tensor, mask: Tensor | None = None, dim: int = -1) -> Tensor:
    """Softmax over ``dim`` that ignores masked positions; a row with nothing visible is all 0.

    Args:
        scores: float tensor of any shape.
        mask: bool, ``True`` = may attend, broadcastable to ``scores``; ``None`` = plain softmax.
        dim: the dimension to normalise.

    Returns:
        Probabilities of ``scores``' shape: masked entries are exactly 0, rows with at least one
        visible entry sum to 1, rows with none are 0 (never NaN, in forward or backward).

    Example:
        >>> visible = torch.tensor([[True, False], [False, False]])
        >>> masked_softmax(torch.zeros(2, 2), visible).tolist()
        [[1.0, 0.0], [0.0, 0.0]]
    """
    if mask is None:
        return torch.softmax(scores, dim=dim)
    if mask.dtype != torch.bool:
        raise ValueError(f"mask must be bool (True = may attend), got {mask.dtype}")
    # A finite fill keeps fully masked rows finite (uniform), zeroed afterwards.
    filled = scores.masked_fill(~mask, torch.finfo(scores.dtype).min)
    return torch.softmax(filled, dim=dim).masked_fill(~mask, 0.0)
