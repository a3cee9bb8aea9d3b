"""attnkit.training: the Trainer every task shares, its config, checkpoints and placement."""

from attnkit.training.config import TrainConfig
from attnkit.training.distributed import DistEnv, pick_device
from attnkit.training.trainer import (
    Trainer,
    bf16_is_fast,
    resolve_bf16,
    seed_everything,
    to_device,
)

__all__ = [
    "DistEnv",
    "TrainConfig",
    "Trainer",
    "bf16_is_fast",
    "pick_device",
    "resolve_bf16",
    "seed_everything",
    "to_device",
]
