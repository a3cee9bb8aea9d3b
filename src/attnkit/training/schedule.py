"""Learning-rate schedules as pure functions of progress, so resuming needs no extra state."""

from __future__ import annotations

import math

from attnkit.training.config import TrainConfig


def warmup_steps(cfg: TrainConfig, total_steps: float) -> float:
    """The warm-up length: ``warmup_fraction`` of the run's ``total_steps`` when it is set,
    else ``warmup_steps`` (an unknown total gives an infinite warm-up with a fraction).

    Example:
        >>> warmup_steps(TrainConfig(warmup_fraction=0.05), 2000), warmup_steps(TrainConfig(), 9)
        (100, 0)
    """
    if not cfg.warmup_fraction:
        return cfg.warmup_steps
    if not math.isfinite(total_steps):
        return math.inf
    return max(1, math.ceil(cfg.warmup_fraction * total_steps))


def lr_factor(cfg: TrainConfig, step: int, progress: float, warmup: float | None = None) -> float:
    """Multiplier of ``cfg.lr`` at optimizer step ``step`` (0-based).

    Args:
        cfg: the schedule settings (schedule, warmup_steps, min_lr_ratio).
        step: steps taken so far.
        progress: fraction of training done in [0, 1] (steps or time budget, whichever is
            further along); used by the decaying schedules.
        warmup: warm-up steps (default ``cfg.warmup_steps``; see :func:`warmup_steps`).

    Example:
        >>> cfg = TrainConfig(schedule="linear", warmup_steps=10)
        >>> lr_factor(cfg, 4, 0.0), lr_factor(cfg, 10, 0.5)
        (0.5, 0.5)
        >>> step = TrainConfig(schedule="step", step_every=0.25, step_factor=0.5)
        >>> [lr_factor(step, 0, p) for p in (0.0, 0.24, 0.25, 0.6, 0.99)]
        [1.0, 1.0, 0.5, 0.25, 0.125]
    """
    warmup = cfg.warmup_steps if warmup is None else warmup
    if warmup and step < warmup:
        return (step + 1) / warmup
    floor = cfg.min_lr_ratio
    progress = min(max(progress, 0.0), 1.0)
    if cfg.schedule == "cosine":
        return floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * progress))
    if cfg.schedule == "linear":
        return floor + (1 - floor) * (1 - progress)
    if cfg.schedule == "step":
        return cfg.step_factor ** math.floor(progress / cfg.step_every + 1e-9)
    if cfg.schedule == "inverse_sqrt":
        return math.sqrt(max(cfg.warmup_steps, 1) / max(step + 1, 1))
    return 1.0  # constant, and plateau (whose reductions the Trainer applies on top)
