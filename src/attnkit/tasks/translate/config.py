"""The translation task's config: ``configs/translate_es_en.yaml`` is an instance of it."""

from __future__ import annotations

from dataclasses import dataclass, field

from attnkit.data.parallel import ParallelDataConfig
from attnkit.models.seq2seq import Seq2SeqConfig
from attnkit.training import TrainConfig


@dataclass
class DecodeConfig:
    """Beam search settings used by eval, ``attnkit translate`` and the server."""

    beam_size: int = 5
    alpha: float = 0.6  # GNMT length penalty exponent
    max_len_ratio: float = 1.5  # output tokens <= ratio * source tokens + 10
    n_best: int = 1
    no_repeat_ngram_size: int = 0
    max_repeat: int = 0  # > 0: no 1-4 token pattern more than this many times in a row
    batch_sentences: int = 64  # sentences decoded together
    max_input_tokens: int = 250  # longer inputs are refused by `attnkit translate`

    def __post_init__(self) -> None:
        if self.beam_size < 1:
            raise ValueError(f"decode.beam_size must be >= 1, got {self.beam_size}")
        if not 1 <= self.n_best <= self.beam_size:
            raise ValueError(
                f"decode.n_best must be between 1 and beam_size ({self.beam_size}), "
                f"got {self.n_best}"
            )
        for name in ("batch_sentences", "max_input_tokens"):
            if getattr(self, name) < 1:
                raise ValueError(f"decode.{name} must be >= 1, got {getattr(self, name)}")
        if self.max_len_ratio <= 0 or self.alpha < 0 or self.no_repeat_ngram_size < 0:
            raise ValueError(
                "decode.max_len_ratio must be > 0, alpha and no_repeat_ngram_size >= 0"
            )


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
