"""The translation task's config: ``configs/translate_es_en.yaml`` is an instance of it."""

from __future__ import annotations

from dataclasses import dataclass, field

from attnkit.data.parallel import ParallelDataConfig
from attnkit.decoding.batched import DecodeConfig
from attnkit.models.seq2seq import Seq2SeqConfig
from attnkit.training import TrainConfig


def _default_train() -> TrainConfig:
    return TrainConfig(epochs=20, lr=3e-3, metric="bleu", metric_mode="max", bf16="auto")


@dataclass
class Config:
    """Translation: data, the :class:`~attnkit.models.seq2seq.Seq2SeqConfig`, training, search."""

    data: ParallelDataConfig = field(default_factory=ParallelDataConfig)
    model: Seq2SeqConfig = field(default_factory=Seq2SeqConfig)
    train: TrainConfig = field(default_factory=_default_train)
    decode: DecodeConfig = field(default_factory=DecodeConfig)
    label_smoothing: float = 0.1


__all__ = ["Config", "DecodeConfig"]
