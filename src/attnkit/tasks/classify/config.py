"""The classify task's config: ``configs/classify_fmnist.yaml`` is an instance of it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from attnkit.data.images import ImageDataConfig
from attnkit.training import TrainConfig


@dataclass
class ModelConfig:
    """Which network (a name of :data:`attnkit.models.se_resnet.ARCHITECTURES`) and its options."""

    arch: Literal["resnet20", "se_resnet20", "resnet56", "se_resnet56"] = "se_resnet20"
    reduction: int = 16  # SE bottleneck ratio r
    shortcut: Literal["A", "B"] = "A"  # A: zero-padding identity, B: 1x1 projection
    channels_last: bool = True  # NHWC activations (faster convolutions on CPU)


def _default_train() -> TrainConfig:
    return TrainConfig(
        epochs=20,
        lr=0.1,
        optimizer="sgd",
        momentum=0.9,
        weight_decay=5e-4,
        schedule="cosine",
        grad_clip=None,
        metric="accuracy",
        metric_mode="max",
        log_every=50,
        bf16="auto",
    )


@dataclass
class Config:
    """The classify task: data, model, training and the loss's label smoothing.

    Example:
        >>> cfg = Config()
        >>> cfg.model.arch, cfg.train.metric
        ('se_resnet20', 'accuracy')
    """

    data: ImageDataConfig = field(default_factory=ImageDataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(default_factory=_default_train)
    label_smoothing: float = 0.1


__all__ = ["Config", "ModelConfig"]
