"""The correction task's config: ``configs/correct.yaml`` is an instance of it."""

from __future__ import annotations

from dataclasses import dataclass, field

from attnkit.data.correction import SOURCES
from attnkit.tasks.correct.model import CorrectorConfig
from attnkit.training import TrainConfig


@dataclass
class CorrectDataConfig:
    """Which sentences, how they and codespell's pairs are split, how errors are injected, and
    the word / character n-gram vocabulary."""

    sources: list[str] = field(default_factory=lambda: list(SOURCES))  # bible, debian, aclsum
    dev: float = 0.05  # share of sentences for dev (a stable hash of the sentence)
    test: float = 0.1  # share of sentences for test
    pair_dev: float = 0.05  # share of codespell's correct words held out for dev
    pair_test: float = 0.05  # ... and for test (their sentences leave training)
    frequent: float = 0.005  # words in more sentences than this share always train and are
    # the only ones with an embedding of their own (the rest: character n-grams)
    nonword_rate: float = 0.5  # share of sentences given one codespell misspelling
    realword_rate: float = 0.3  # share of sentences given one confusion-set swap
    seed: int = 0  # which errors are injected (train.seed: init and batch order)
    train_copies: int = 2  # each training sentence injected this many times (seeds seed..)
    max_train_sentences: int = 0  # 0: all; else the first N (corpus order) for quick runs
    max_eval_sentences: int = 0  # dev sentences scored during training (0: all)
    buckets: int = 32768  # hashed character n-gram embeddings
    ngrams: list[int] = field(default_factory=lambda: [3, 4])  # n-gram sizes of "<word>"
    batch_size: int = 128  # checked tokens per batch

    def __post_init__(self) -> None:
        bad = [s for s in self.sources if s not in SOURCES]
        if not self.sources or bad:
            raise ValueError(f"data.sources must be some of {list(SOURCES)}, got {self.sources}")
        for name in ("dev", "test", "pair_dev", "pair_test", "frequent",
                     "nonword_rate", "realword_rate"):  # fmt: skip
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"data.{name} must be in [0, 1], got {getattr(self, name)}")
        if self.dev + self.test >= 1 or self.pair_dev + self.pair_test >= 1:
            raise ValueError("data.dev + data.test and data.pair_dev + data.pair_test must be < 1")
        positive = {"train_copies": self.train_copies, "buckets": self.buckets,
                    "batch_size": self.batch_size}  # fmt: skip
        for name, value in positive.items():
            if value < 1:
                raise ValueError(f"data.{name} must be >= 1, got {value}")
        if self.max_train_sentences < 0 or self.max_eval_sentences < 0:
            raise ValueError("data.max_train_sentences and data.max_eval_sentences must be >= 0")
        if not self.ngrams or any(n < 1 for n in self.ngrams):
            raise ValueError(f"data.ngrams must be sizes >= 1, got {self.ngrams}")


def _default_train() -> TrainConfig:
    return TrainConfig(epochs=3, optimizer="adamw", lr=3e-3, schedule="cosine", grad_clip=5.0,
                       metric="accuracy", metric_mode="max", log_every=200, threads=1)  # fmt: skip


@dataclass
class Config:
    """Context-aware spelling correction: data, the memory-network corrector, training."""

    data: CorrectDataConfig = field(default_factory=CorrectDataConfig)
    model: CorrectorConfig = field(default_factory=CorrectorConfig)
    train: TrainConfig = field(default_factory=_default_train)
    max_chars: int = 2000  # longest text `attnkit correct` and predict accept

    def __post_init__(self) -> None:
        if self.max_chars < 1:
            raise ValueError(f"max_chars must be >= 1, got {self.max_chars}")


__all__ = ["Config", "CorrectDataConfig"]
