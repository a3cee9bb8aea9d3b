"""CIFAR-style ResNet-20/56 with and without squeeze-and-excitation (SE-ResNet).

Papers:
    He, Zhang, Ren and Sun, "Deep Residual Learning for Image Recognition", CVPR 2016
    (Section 4.2: the 6n+2-layer CIFAR networks with 3 stages of 16/32/64 channels).
    Hu, Shen and Sun, "Squeeze-and-Excitation Networks", CVPR 2018 (Fig. 3: the SE-ResNet
    module, the gate applied to the residual branch *before* the addition).

Architecture (depth = 6n + 2; n = 3 for ResNet-20, n = 9 for ResNet-56)::

    stem   conv3x3(in_channels -> 16) - BN - ReLU                       28x28
    stage1 n x BasicBlock(16)                                            28x28
    stage2 n x BasicBlock(32), the first with stride 2                   14x14
    stage3 n x BasicBlock(64), the first with stride 2                    7x7
    head   global average pool - Linear(64 -> num_classes)

    BasicBlock: conv3x3-BN-ReLU-conv3x3-BN -> [SE] -> + shortcut -> ReLU

Shortcuts where the shape changes (first block of stages 2 and 3):

- ``"A"`` (default, the paper's CIFAR choice): parameter-free; the identity is subsampled
  with stride 2 and the new channels are zeros.
- ``"B"``: a 1x1 convolution with stride 2 plus BatchNorm (a projection).

Parameter counts (``in_channels=1``, ``num_classes=10``, shortcut ``"A"``, convolutions
without bias, BatchNorm = 2 parameters per channel):

    stem: 3*3*1*16 + 2*16                                    =     176
    a 16-channel block: 2 * (3*3*16*16) + 2 * (2*16)         =   4,672
    first 32-channel block: 3*3*16*32 + 3*3*32*32 + 4*32     =  13,952
    other 32-channel block: 2 * (3*3*32*32) + 4*32           =  18,560
    first 64-channel block: 3*3*32*64 + 3*3*64*64 + 4*64     =  55,552
    other 64-channel block: 2 * (3*3*64*64) + 4*64           =  73,984
    head: 64*10 + 10                                         =     650

    ResNet-20 (n=3): 176 + 3*4,672 + 13,952 + 2*18,560 + 55,552 + 2*73,984 + 650 = 269,434
    ResNet-56 (n=9): 176 + 9*4,672 + 13,952 + 8*18,560 + 55,552 + 8*73,984 + 650 = 852,730

(With 3 input channels these become the familiar 269,722 and 853,018.)  Shortcut ``"B"``
adds 16*32 + 2*32 + 32*64 + 2*64 = 2,752.

An SE module on C channels with reduction r has a bottleneck of h = max(C // r, 8)
channels (``min_channels=8``) and two biased 1x1 maps: ``C*h + h + h*C + C`` parameters.
With r = 16 every stage gets h = 8: 16 -> 280, 32 -> 552, 64 -> 1,096 per block, so SE adds
n * (280 + 552 + 1,096) = 1,928 n parameters:

    SE-ResNet-20: 269,434 + 5,784  = 275,218   (+2.15%)
    SE-ResNet-56: 852,730 + 17,352 = 870,082   (+2.03%)

CPU speed options: ``channels_last=True`` keeps activations in NHWC (the layout oneDNN
convolutions prefer) and ``bf16=True`` runs the forward pass under ``torch.autocast``
with bfloat16 (logits are returned in float32).

Notation for tensor shapes: B batch, C channels, H height, W width, K classes.

Example:
    >>> import torch
    >>> model = se_resnet20()
    >>> logits, weights = model(torch.randn(2, 1, 28, 28), return_channel_weights=True)
    >>> logits.shape, weights["stage3.block3"].shape
    (torch.Size([2, 10]), torch.Size([2, 64]))
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from attnkit.attention import SqueezeExcitation

SHORTCUTS = ("A", "B")


@dataclass
class SEResNetConfig:
    """Hyperparameters of a CIFAR-style (SE-)ResNet.

    Attributes:
        depth: 6n + 2 layers (20, 32, 44, 56, 110 ...).
        in_channels: image channels (1 for Fashion-MNIST).
        num_classes: K, the number of output logits.
        widths: channels of the three stages.
        se: put a squeeze-and-excitation module in every residual block.
        reduction: SE bottleneck ratio r (bottleneck = max(C // r, se_min_channels)).
        se_min_channels: smallest SE bottleneck.
        shortcut: ``"A"`` (zero-padding identity) or ``"B"`` (1x1 projection).
        channels_last: keep activations in NHWC memory format.
        bf16: run the forward pass under bfloat16 autocast.
    """

    depth: int = 20
    in_channels: int = 1
    num_classes: int = 10
    widths: tuple[int, int, int] = (16, 32, 64)
    se: bool = True
    reduction: int = 16
    se_min_channels: int = 8
    shortcut: str = "A"
    channels_last: bool = False
    bf16: bool = False


def _conv3x3(in_channels: int, out_channels: int, stride: int = 1) -> nn.Conv2d:
    return nn.Conv2d(in_channels, out_channels, 3, stride=stride, padding=1, bias=False)


class BasicBlock(nn.Module):
    """Two 3x3 convolutions with a residual connection, optionally gated by SE.

    Args:
        in_channels: C_in.
        out_channels: C_out.
        stride: 1, or 2 to halve H and W.
        se: gate the residual branch with :class:`SqueezeExcitation` before the addition.
        reduction: SE reduction ratio.
        se_min_channels: smallest SE bottleneck.
        shortcut: ``"A"`` or ``"B"`` (used only where the shape changes).
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        *,
        stride: int = 1,
        se: bool = True,
        reduction: int = 16,
        se_min_channels: int = 8,
        shortcut: str = "A",
    ) -> None:
        super().__init__()
        if shortcut not in SHORTCUTS:
            raise ValueError(f"unknown shortcut {shortcut!r}; valid: {', '.join(SHORTCUTS)}")
        self.conv1 = _conv3x3(in_channels, out_channels, stride)
        self.bn1 = nn.BatchNorm2d(out_channels)
        self.conv2 = _conv3x3(out_channels, out_channels)
        self.bn2 = nn.BatchNorm2d(out_channels)
        self.se = (
            SqueezeExcitation(out_channels, reduction=reduction, min_channels=se_min_channels)
            if se
            else None
        )
        self.stride = stride
        self.pad_channels = out_channels - in_channels
        self.shortcut_type = shortcut
        self.projection: nn.Module | None = None
        if shortcut == "B" and (stride != 1 or in_channels != out_channels):
            self.projection = nn.Sequential(
                nn.Conv2d(in_channels, out_channels, 1, stride=stride, bias=False),
                nn.BatchNorm2d(out_channels),
            )

    def _shortcut(self, x: torch.Tensor) -> torch.Tensor:
        if self.projection is not None:
            return self.projection(x)
        if self.stride != 1:
            x = x[:, :, :: self.stride, :: self.stride]  # (B, C_in, H/2, W/2)
        if self.pad_channels:
            x = F.pad(x, (0, 0, 0, 0, 0, self.pad_channels))  # (B, C_out, H', W'), zeros appended
        return x

    def forward(
        self, x: torch.Tensor, *, return_weights: bool = False
    ) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor | None]:
        """Args: x ``(B, C_in, H, W)``. Returns ``(B, C_out, H', W')``, and with
        ``return_weights`` also the SE gate ``(B, C_out)`` (None without SE)."""
        out = F.relu(self.bn1(self.conv1(x)))  # (B, C_out, H', W')
        out = self.bn2(self.conv2(out))  # (B, C_out, H', W')
        weights = None
        if self.se is not None:
            if return_weights:
                out, weights = self.se(out, return_weights=True)  # weights (B, C_out)
            else:
                out = self.se(out)
        out = F.relu(out + self._shortcut(x))
        return (out, weights) if return_weights else out


class SEResNet(nn.Module):
    """A CIFAR-style ResNet (3 stages), with SE in every block when ``config.se``.

    Args:
        config: the hyperparameters (see :class:`SEResNetConfig`).

    Raises:
        ValueError: ``depth`` is not 6n + 2, or an unknown shortcut type.
    """

    def __init__(self, config: SEResNetConfig) -> None:
        super().__init__()
        if config.depth < 8 or (config.depth - 2) % 6:
            raise ValueError(
                f"depth must be 6n + 2 with n >= 1 (20, 32, 56 ...), got {config.depth}"
            )
        self.config = config
        n = (config.depth - 2) // 6
        w1, w2, w3 = config.widths
        self.stem = nn.Sequential(
            _conv3x3(config.in_channels, w1), nn.BatchNorm2d(w1), nn.ReLU(inplace=True)
        )
        stages = []
        in_channels = w1
        for i, width in enumerate((w1, w2, w3)):
            blocks = []
            for j in range(n):
                blocks.append(
                    BasicBlock(
                        in_channels,
                        width,
                        stride=2 if (i > 0 and j == 0) else 1,
                        se=config.se,
                        reduction=config.reduction,
                        se_min_channels=config.se_min_channels,
                        shortcut=config.shortcut,
                    )
                )
                in_channels = width
            stages.append(nn.ModuleList(blocks))
        self.stages = nn.ModuleList(stages)
        self.fc = nn.Linear(w3, config.num_classes)
        self._init_weights()
        if config.channels_last:
            self.to(memory_format=torch.channels_last)

    def _init_weights(self) -> None:
        # He init for the convolutions of the trunk; the SE modules keep their own init.
        convs = [self.stem[0]]
        for stage in self.stages:
            for block in stage:
                convs += [block.conv1, block.conv2]
                if block.projection is not None:
                    convs.append(block.projection[0])
        for conv in convs:
            nn.init.kaiming_normal_(conv.weight, mode="fan_out", nonlinearity="relu")

    def block_names(self) -> list[str]:
        """Names of the residual blocks, ``"stage{i}.block{j}"`` (1-based), in order."""
        return [
            f"stage{i + 1}.block{j + 1}"
            for i, stage in enumerate(self.stages)
            for j in range(len(stage))
        ]

    def forward(
        self, x: torch.Tensor, *, return_channel_weights: bool = False
    ) -> torch.Tensor | tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """Classify images.

        Args:
            x: images ``(B, in_channels, H, W)``, normalised.
            return_channel_weights: also return every block's SE gate.

        Returns:
            logits ``(B, K)`` in float32; with ``return_channel_weights`` also a dict
            ``{"stage{i}.block{j}": (B, C_i)}`` of the SE gates in (0, 1) (empty without SE).
        """
        if x.ndim != 4 or x.shape[1] != self.config.in_channels:
            raise ValueError(
                f"expected images (B, {self.config.in_channels}, H, W), got {tuple(x.shape)}"
            )
        if self.config.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        weights: dict[str, torch.Tensor] = {}
        # Only ever *enter* autocast: an enabled=False region would switch off a caller's
        # autocast (the Trainer's train.bf16).
        autocast = (
            torch.autocast(x.device.type, dtype=torch.bfloat16)
            if self.config.bf16
            else contextlib.nullcontext()
        )
        with autocast:
            h = self.stem(x)  # (B, C1, H, W)
            for i, stage in enumerate(self.stages):
                for j, block in enumerate(stage):
                    if return_channel_weights:
                        h, w = block(h, return_weights=True)
                        if w is not None:
                            weights[f"stage{i + 1}.block{j + 1}"] = w.float()
                    else:
                        h = block(h)  # (B, C_i, H_i, W_i)
            pooled = h.mean(dim=(2, 3))  # (B, C3)
            logits = self.fc(pooled).float()  # (B, K)
        return (logits, weights) if return_channel_weights else logits


ARCHITECTURES: dict[str, tuple[int, bool]] = {
    "resnet20": (20, False),
    "se_resnet20": (20, True),
    "resnet56": (56, False),
    "se_resnet56": (56, True),
}
"""The named networks: name -> (depth, with SE). ``model.arch`` in the classify config."""


def create_model(
    name: str,
    *,
    in_channels: int = 1,
    num_classes: int = 10,
    reduction: int = 16,
    shortcut: str = "A",
    channels_last: bool = False,
    bf16: bool = False,
) -> SEResNet:
    """The network called ``name`` (see :data:`ARCHITECTURES`), timm's ``create_model`` style.

    Args:
        name: ``resnet20``, ``se_resnet20``, ``resnet56`` or ``se_resnet56``.
        in_channels: image channels.
        num_classes: number of logits K.
        reduction: SE bottleneck ratio r (ignored without SE).
        shortcut: ``"A"`` (zero-padding identity) or ``"B"`` (1x1 projection, +2,752 params).
        channels_last: keep activations in NHWC memory format.
        bf16: run the forward pass under bfloat16 autocast.

    Raises:
        ValueError: an unknown name (the valid ones are listed).

    Example:
        >>> sum(p.numel() for p in create_model("resnet20").parameters())
        269434
    """
    if name not in ARCHITECTURES:
        raise ValueError(f"unknown architecture {name!r}; valid: {', '.join(ARCHITECTURES)}")
    depth, se = ARCHITECTURES[name]
    return SEResNet(
        SEResNetConfig(
            depth=depth,
            in_channels=in_channels,
            num_classes=num_classes,
            se=se,
            reduction=reduction,
            shortcut=shortcut,
            channels_last=channels_last,
            bf16=bf16,
        )
    )


def resnet20(**options) -> SEResNet:
    """ResNet-20 without SE: 269,434 parameters (1 input channel, 10 classes, shortcut A).

    ``options`` are those of :func:`create_model`.
    """
    return create_model("resnet20", **options)


def se_resnet20(**options) -> SEResNet:
    """SE-ResNet-20: 275,218 parameters (1 input channel, 10 classes, shortcut A, r = 16).

    ``options`` are those of :func:`create_model`.
    """
    return create_model("se_resnet20", **options)


def resnet56(**options) -> SEResNet:
    """ResNet-56 without SE: 852,730 parameters. ``options``: see :func:`create_model`."""
    return create_model("resnet56", **options)


def se_resnet56(**options) -> SEResNet:
    """SE-ResNet-56: 870,082 parameters. ``options``: see :func:`create_model`."""
    return create_model("se_resnet56", **options)
