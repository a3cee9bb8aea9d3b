"""The bAbI task's config: ``configs/babi.yaml`` is an instance of it."""

from __future__ import annotations

from dataclasses import dataclass, field

from attnkit.models.memn2n import MemN2NConfig
from attnkit.training import TrainConfig

ALL_TASKS = tuple(range(1, 21))


@dataclass
class BabiDataConfig:
    """Which generated bAbI tasks, how many questions, and one model per task or a joint one."""

    tasks: list[int] = field(default_factory=lambda: list(ALL_TASKS))  # bAbI task numbers
    train_size: int = 1000  # questions per task, 10% held out for dev (the paper: 1000 | 10000)
    test_size: int = 1000  # test questions per task (stories never seen in training)
    joint: bool = False  # one model for all the tasks (the paper's joint rows: embed_dim 50)
    seed: int = 0  # selects the generated stories (train.seed: initial weights, batch order)
    batch_size: int = 32  # questions per batch, all of one task

    def __post_init__(self) -> None:
        bad = [t for t in self.tasks if t not in ALL_TASKS]
        if not self.tasks or bad or len(set(self.tasks)) < len(self.tasks):
            raise ValueError(
                f"data.tasks must be distinct bAbI task numbers 1..20, got {self.tasks}"
            )
        if self.train_size < 20 or self.test_size < 1 or self.batch_size < 1:
            raise ValueError(
                "data.train_size must be >= 20 (10% of it is dev), data.test_size and "
                f"data.batch_size >= 1; got {self.train_size}, {self.test_size}, {self.batch_size}"
            )


def _default_model() -> MemN2NConfig:
    return MemN2NConfig(linear_start=True)


def _default_train() -> TrainConfig:
    return TrainConfig(epochs=100, optimizer="adamw", lr=0.01, schedule="cosine", grad_clip=40.0,
                       metric="accuracy", metric_mode="max", log_every=100)  # fmt: skip


@dataclass
class Config:
    """bAbI question answering: the generated tasks, MemN2N, training."""

    data: BabiDataConfig = field(default_factory=BabiDataConfig)
    model: MemN2NConfig = field(default_factory=_default_model)
    train: TrainConfig = field(default_factory=_default_train)
    linear_start_evals: int = 20  # linear start ends after this many evaluations at the latest

    def __post_init__(self) -> None:
        if self.linear_start_evals < 1:
            raise ValueError(f"linear_start_evals must be >= 1, got {self.linear_start_evals}")


__all__ = ["ALL_TASKS", "BabiDataConfig", "Config"]
