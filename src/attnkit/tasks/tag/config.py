"""The tagging task's config: ``configs/tag_pku.yaml`` is an instance of it."""

from __future__ import annotations

from dataclasses import dataclass, field

from attnkit.data.tagging import TagDataConfig
from attnkit.models.tagger import TaggerConfig
from attnkit.training import TrainConfig


def _default_train() -> TrainConfig:
    return TrainConfig(epochs=15, lr=3e-3, metric="accuracy", metric_mode="max", warmup_steps=100)


@dataclass
class Config:
    """The ``tag`` task: data, the :class:`~attnkit.models.tagger.TaggerConfig`, training."""

    data: TagDataConfig = field(default_factory=TagDataConfig)
    model: TaggerConfig = field(default_factory=TaggerConfig)
    train: TrainConfig = field(default_factory=_default_train)


__all__ = ["Config"]
