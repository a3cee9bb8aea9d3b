"""The summarization task's config: ``configs/summarize_debian.yaml`` is an instance of it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from attnkit.decoding.batched import DecodeConfig
from attnkit.models.seq2seq import Seq2SeqConfig
from attnkit.training import TrainConfig


@dataclass
class SummaryDataConfig:
    """Which corpus, the vocabulary, truncation and batching."""

    corpus: Literal["debian-descriptions", "aclsum", "manpages"] = "debian-descriptions"
    vocab_size: int = 20000  # words kept (the four specials included); the rest are copied
    min_count: int = 2  # words seen fewer times in train are out of the vocabulary
    max_source_tokens: int = 120  # documents are truncated to this many words
    max_target_tokens: int = 24  # summaries (training targets) are truncated to this many
    max_tokens: int = 6000  # tokens per batch, padding included (the longer side counts)
    train_limit: int | None = None  # use only the first N training pairs (quick runs)
    dev_limit: int = 500  # dev documents summarised (greedy) at each evaluation

    def __post_init__(self) -> None:
        for name in ("vocab_size", "max_source_tokens", "max_target_tokens", "max_tokens"):
            if getattr(self, name) < 5:
                raise ValueError(f"data.{name} must be >= 5, got {getattr(self, name)}")
        if self.min_count < 1 or self.dev_limit < 1:
            raise ValueError("data.min_count and data.dev_limit must be >= 1")


def _default_model() -> Seq2SeqConfig:
    return Seq2SeqConfig(emb_dim=128, hidden_dim=256, dropout=0.1, tie_embeddings=True)


def _default_train() -> TrainConfig:
    return TrainConfig(epochs=8, lr=2e-3, metric="rougeL", metric_mode="max", bf16="auto")


def _default_decode() -> DecodeConfig:
    return DecodeConfig(beam_size=4, alpha=1.0, max_len=30, no_repeat_ngram_size=3,
                        max_input_tokens=2000)  # fmt: skip


@dataclass
class Config:
    """Summarization: data, the pointer-generator's Seq2Seq config, training, search."""

    data: SummaryDataConfig = field(default_factory=SummaryDataConfig)
    model: Seq2SeqConfig = field(default_factory=_default_model)
    train: TrainConfig = field(default_factory=_default_train)
    decode: DecodeConfig = field(default_factory=_default_decode)
    coverage_weight: float = 1.0  # lambda of the coverage loss (when model.coverage)

    def __post_init__(self) -> None:
        if self.coverage_weight < 0:
            raise ValueError(f"coverage_weight must be >= 0, got {self.coverage_weight}")


__all__ = ["Config", "SummaryDataConfig"]
