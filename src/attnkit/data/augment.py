"""Image augmentation as batched tensor ops: random crop with padding, horizontal flip.

Every random draw comes from an explicit ``torch.Generator``, so the same generator state
gives the same augmented batch (the Trainer seeds batches with ``seed + epoch``).

Shapes: B batch, C channels, H height, W width.

Example:
    >>> import torch
    >>> g = torch.Generator().manual_seed(0)
    >>> x = torch.rand(8, 1, 28, 28)
    >>> augment(x, padding=2, flip=True, generator=g).shape
    torch.Size([8, 1, 28, 28])
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def random_crop(
    x: torch.Tensor, padding: int, *, generator: torch.Generator | None = None, fill: float = 0.0
) -> torch.Tensor:
    """Pad each image by ``padding`` pixels on every side and crop it back at a random offset.

    Each image gets its own offset, drawn uniformly from ``0..2*padding`` in each direction
    (the CIFAR augmentation of He et al., 2016).

    Args:
        x: images, ``(B, C, H, W)``.
        padding: pixels of ``fill`` added on each side; 0 returns ``x`` unchanged.
        generator: source of randomness (on ``x``'s device for CPU tensors).
        fill: value of the padded border (0 = black before normalisation).

    Returns:
        ``(B, C, H, W)``, same dtype and device.
    """
    if x.ndim != 4:
        raise ValueError(f"random_crop expects (B, C, H, W), got shape {tuple(x.shape)}")
    if padding < 0:
        raise ValueError(f"padding must be >= 0, got {padding}")
    if padding == 0:
        return x
    B, _, H, W = x.shape
    padded = F.pad(x, (padding, padding, padding, padding), value=fill)  # (B, C, H+2p, W+2p)
    dy = torch.randint(0, 2 * padding + 1, (B,), generator=generator)
    dx = torch.randint(0, 2 * padding + 1, (B,), generator=generator)
    rows = (dy[:, None] + torch.arange(H)).to(x.device)  # (B, H)
    cols = (dx[:, None] + torch.arange(W)).to(x.device)  # (B, W)
    batch = torch.arange(B, device=x.device)[:, None, None]  # (B, 1, 1)
    # Advanced indices around a slice put the indexed dims first: (B, H, W, C).
    out = padded.permute(0, 2, 3, 1)[batch, rows[:, :, None], cols[:, None, :]]
    return out.permute(0, 3, 1, 2).contiguous()  # (B, C, H, W)


def random_hflip(
    x: torch.Tensor, p: float = 0.5, *, generator: torch.Generator | None = None
) -> torch.Tensor:
    """Mirror each image left-right with probability ``p``.

    Args:
        x: images, ``(B, C, H, W)``.
        p: probability of flipping each image.
        generator: source of randomness.

    Returns:
        ``(B, C, H, W)``.
    """
    if x.ndim != 4:
        raise ValueError(f"random_hflip expects (B, C, H, W), got shape {tuple(x.shape)}")
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"p must be in [0, 1], got {p}")
    flip = (torch.rand(x.shape[0], generator=generator) < p).to(x.device)  # (B,)
    return torch.where(flip[:, None, None, None], x.flip(-1), x)


def augment(
    x: torch.Tensor,
    *,
    padding: int = 2,
    flip: bool = True,
    generator: torch.Generator | None = None,
    fill: float = 0.0,
) -> torch.Tensor:
    """Random crop with ``padding``, then a random horizontal flip (when ``flip``).

    Args:
        x: images, ``(B, C, H, W)``.
        padding: crop padding in pixels (0 = no crop).
        flip: whether to flip half of the images left-right.
        generator: source of randomness; the same state gives the same output.
        fill: value of the padded border.

    Returns:
        ``(B, C, H, W)``.
    """
    x = random_crop(x, padding, generator=generator, fill=fill)
    if flip:
        x = random_hflip(x, 0.5, generator=generator)
    return x
