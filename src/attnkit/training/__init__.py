"""attnkit.training: the Trainer every task shares, its config and checkpoints."""

from attnkit.training.config import TrainConfig
from attnkit.training.trainer import Trainer, default_device, seed_everything

__all__ = ["TrainConfig", "Trainer", "default_device", "seed_everything"]
