"""Learning-rate schedules as pure functions of progress, so resuming needs no extra state."""

from __future__ import annotations

import math

from attnkit.training.config import TrainConfig


def lr_factor(cfg: TrainConfig, step: int, progress: float) -> float:
    """Multiplier of ``cfg.lr`` at optimizer step ``step`` (0-based).

    Args:
        cfg: the schedule settings (schedule, warmup_steps, min_lr_ratio).
        step: steps taken so far.
        progress: fraction of training done in [0, 1] (steps or time budget, whichever is
            further along); used by the decaying schedules.

    Example:
        >>> cfg = TrainConfig(schedule="linear", warmup_steps=10)
        >>> lr_factor(cfg, 4, 0.0), lr_factor(cfg, 10, 0.5)
        (0.5, 0.5)
    """
    if cfg.warmup_steps and step < cfg.warmup_steps:
        return (step + 1) / cfg.warmup_steps
    floor = cfg.min_lr_ratio
    progress = min(max(progress, 0.0), 1.0)
    if cfg.schedule == "cosine":
        return floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * progress))
    if cfg.schedule == "linear":
        return floor + (1 - floor) * (1 - progress)
    if cfg.schedule == "inverse_sqrt":
        return math.sqrt(max(cfg.warmup_steps, 1) / max(step + 1, 1))
    return 1.0  # constant, and plateau (whose reductions the Trainer applies on top)
