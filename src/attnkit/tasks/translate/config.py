"""The translation task's config: ``configs/translate_es_en.yaml`` is an instance of it."""

from __future__ import annotations

from dataclasses import dataclass, field

from attnkit.data.parallel import ParallelDataConfig
from attnkit.decoding.batched import DecodeConfig
from attnkit.models.seq2seq import Seq2SeqConfig
from attnkit.models.transformer import TransformerConfig
from attnkit.training import TrainConfig


def _default_train() -> TrainConfig:
    return TrainConfig(epochs=20, lr=3e-3, metric="bleu", metric_mode="max", bf16="auto")


ARCHITECTURES = ("rnn", "transformer")


@dataclass
class Config:
    """Translation: data, the model, training, search.

    ``arch`` picks the model: ``rnn`` is the :class:`~attnkit.models.seq2seq.Seq2Seq` of the
    ``model`` section (Bahdanau attention), ``transformer`` the
    :class:`~attnkit.models.transformer.Transformer` of the ``transformer`` section; the other
    section is not used.
    """

    data: ParallelDataConfig = field(default_factory=ParallelDataConfig)
    arch: str = "rnn"
    model: Seq2SeqConfig = field(default_factory=Seq2SeqConfig)
    transformer: TransformerConfig = field(default_factory=TransformerConfig)
    train: TrainConfig = field(default_factory=_default_train)
    decode: DecodeConfig = field(default_factory=DecodeConfig)
    label_smoothing: float = 0.1

    def __post_init__(self) -> None:
        if self.arch not in ARCHITECTURES:
            raise ValueError(f"unknown arch {self.arch!r}; valid: {', '.join(ARCHITECTURES)}")


__all__ = ["ARCHITECTURES", "Config", "DecodeConfig"]
