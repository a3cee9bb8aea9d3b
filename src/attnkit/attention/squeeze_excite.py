"""Squeeze-and-excitation: channel attention (Hu, Shen, Sun 2018, "Squeeze-and-Excitation
Networks").

``s = sigmoid(W_2 relu(W_1 mean_hw(x)))`` and ``y = x * s``: global average pooling squeezes
each channel to one number, a bottleneck MLP turns those into one gate per channel, and the
feature map is re-weighted by its gates. The bottleneck has ``max(C // reduction,
min_channels)`` units; both maps are biased 1x1 (fully connected) layers, as in the paper.

Notation for tensor shapes: B batch, C channels, H height, W width, R bottleneck.

Example:
    >>> import torch
    >>> se = SqueezeExcitation(32)
    >>> y, s = se(torch.randn(2, 32, 8, 8), return_weights=True)
    >>> y.shape, s.shape
    (torch.Size([2, 32, 8, 8]), torch.Size([2, 32]))
"""

from __future__ import annotations

from torch import Tensor, nn

__all__ = ["SqueezeExcitation"]


class SqueezeExcitation(nn.Module):
    """Squeeze-and-excitation block on ``(B, C, H, W)`` feature maps.

    Args:
        channels: ``C``.
        reduction: bottleneck ratio ``r`` (16 in the paper).
        min_channels: smallest bottleneck, so narrow layers keep a useful gate.
        act_layer: activation between the two maps (a module class).
        gate_layer: the gate (a module class; ``nn.Sigmoid`` in the paper, ``nn.Hardsigmoid``
            for mobile networks).

    Example:
        >>> se = SqueezeExcitation(16, reduction=4)
        >>> se.fc1.out_features
        8
    """

    def __init__(
        self,
        channels: int,
        reduction: int = 16,
        min_channels: int = 8,
        *,
        act_layer: type[nn.Module] = nn.ReLU,
        gate_layer: type[nn.Module] = nn.Sigmoid,
    ) -> None:
        super().__init__()
        if channels < 1 or reduction < 1 or min_channels < 1:
            raise ValueError(
                f"channels, reduction and min_channels must be >= 1, got {channels}, "
                f"{reduction}, {min_channels}"
            )
        self.channels = channels
        hidden = max(channels // reduction, min_channels)
        self.fc1 = nn.Linear(channels, hidden)  # W_1
        self.act = act_layer()
        self.fc2 = nn.Linear(hidden, channels)  # W_2
        self.gate = gate_layer()

    def channel_weights(self, x: Tensor) -> Tensor:
        """The gates ``s``: ``(B, C, H, W) -> (B, C)``."""
        if x.dim() != 4 or x.shape[1] != self.channels:
            raise ValueError(f"expected (B, {self.channels}, H, W), got {tuple(x.shape)}")
        squeezed = x.mean(dim=(2, 3))  # (B, C)
        return self.gate(self.fc2(self.act(self.fc1(squeezed))))  # (B, C)

    def forward(self, x: Tensor, return_weights: bool = False) -> Tensor | tuple[Tensor, Tensor]:
        """Re-weight channels: ``(B, C, H, W) -> (B, C, H, W)``, plus the gates if asked."""
        s = self.channel_weights(x)  # (B, C)
        y = x * s[:, :, None, None].to(x.dtype)  # (B, C, H, W)
        return (y, s) if return_weights else y
