"""The joint segmentation + tagging task's config: ``configs/segtag_pku.yaml``."""

from __future__ import annotations

from dataclasses import dataclass, field

from attnkit.data.segtag import SegTagDataConfig
from attnkit.models.tagger import TaggerConfig
from attnkit.training import TrainConfig


def _default_model() -> TaggerConfig:
    return TaggerConfig(word_dim=100, char_dim=50, subunits="concat", subunit_slots=2)


def _default_train() -> TrainConfig:
    return TrainConfig(
        epochs=10, lr=3e-3, metric="joint_f1", metric_mode="max", warmup_fraction=0.02
    )


@dataclass
class Config:
    """``segtag``: data, the character-level :class:`~attnkit.models.tagger.TaggerConfig`
    (characters as units, their two bigrams as sub-units), training."""

    data: SegTagDataConfig = field(default_factory=SegTagDataConfig)
    model: TaggerConfig = field(default_factory=_default_model)
    train: TrainConfig = field(default_factory=_default_train)


__all__ = ["Config"]
