"""attnkit.training: the Trainer every task shares, its config and checkpoints."""

from attnkit.training.config import TrainConfig
from attnkit.training.trainer import (
    Trainer,
    bf16_is_fast,
    default_device,
    resolve_bf16,
    seed_everything,
)

__all__ = [
    "TrainConfig",
    "Trainer",
    "bf16_is_fast",
    "default_device",
    "resolve_bf16",
    "seed_everything",
]
