"""Sequence losses.

Label smoothing: Szegedy et al. "Rethinking the Inception Architecture for Computer
Vision", CVPR 2016; used for NMT by Vaswani et al. 2017.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
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
    if flat.dtype != torch.float32:
        flat = flat.float()
    gold = target.reshape(-1)  # (N,)
    loss = F.cross_entropy(
        flat, gold, ignore_index=ignore_index, reduction="sum", label_smoothing=smoothing
    )
    n_tokens = int((gold != ignore_index).sum())
    return loss, n_tokens


__all__ = ["label_smoothed_cross_entropy"]
