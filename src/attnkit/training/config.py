"""The training hyperparameters every task shares, where it runs included."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal


@dataclass
class TrainConfig:
    """Optimisation, schedule, evaluation, stopping and placement settings for :class:`Trainer`.

    A step whose loss or gradient norm is NaN or infinite is skipped (no update); after
    ``max_bad_steps`` of them in a row training stops with an error, ``last/`` kept.

    Example:
        >>> TrainConfig(lr=3e-4, epochs=2).schedule
        'cosine'
    """

    epochs: int = 10  # passes over the training batches
    max_steps: int | None = None  # stop after this many optimizer steps (None: epochs decide)
    budget_minutes: float | None = None  # stop after about this much training time (see below)
    lr: float = 1e-3  # peak learning rate
    weight_decay: float = 0.0  # decoupled weight decay (AdamW) / L2 (SGD)
    optimizer: Literal["adamw", "sgd"] = "adamw"
    momentum: float = 0.9  # SGD momentum (Nesterov); 0: plain SGD
    schedule: Literal["constant", "cosine", "linear", "inverse_sqrt", "plateau", "step"] = "cosine"
    step_every: float = 0.25  # step: multiply lr by step_factor after each such share of the run
    step_factor: float = 0.5  # step: e.g. halve every 25 epochs of 100 (MemN2N's SGD recipe)
    warmup_steps: int = 0  # linear warm-up from 0 to lr over this many steps
    warmup_fraction: float = 0.0  # > 0: warm up over this share of the planned steps instead
    min_steps: int = 0  # more epochs when epochs x batches would give fewer updates (no budget)
    min_lr_ratio: float = 0.0  # cosine/linear decay floor, as a fraction of lr
    plateau_factor: float = 0.5  # plateau: multiply lr by this when the metric stalls
    grad_clip: float | None = 1.0  # max global grad norm (None: no clipping)
    max_bad_steps: int = 5  # stop after this many steps in a row with a non-finite loss/gradient
    accumulate: int = 1  # batches per optimizer step (gradient accumulation)
    eval_every: int = 0  # evaluate every N steps (0: at the end of each epoch)
    patience: int | None = None  # early stopping: evaluations without improvement
    metric: str = "loss"  # the dev metric that picks the best checkpoint
    metric_mode: Literal["min", "max"] = "min"
    seed: int = 0  # one seed for init, data order and dropout
    log_every: int = 50  # steps between rows of training loss in metrics.csv
    bf16: bool | Literal["auto"] = False  # bfloat16 autocast; "auto": where the hardware has it
    average_last: int = 0  # average the weights of the last N evaluated checkpoints at the end
    progress: bool = True  # show a progress bar
    device: Literal["auto", "cpu", "cuda"] = "auto"  # auto: this rank's GPU if any, else CPU
    threads: int | None = None  # torch CPU threads per process (None: torch's default)
    init_from: str | None = None  # a run (or RUN/best) whose weights start this one (fine-tuning)

    def __post_init__(self) -> None:
        positive = {
            "epochs": self.epochs,
            "accumulate": self.accumulate,
            "max_bad_steps": self.max_bad_steps,
        }
        for name, value in positive.items():
            if value < 1:
                raise ValueError(f"train.{name} must be >= 1, got {value}")
        if not (0 < self.step_every <= 1 and 0 < self.step_factor <= 1):
            raise ValueError(
                f"train.step_every must be in (0, 1] and train.step_factor in (0, 1], got "
                f"{self.step_every} and {self.step_factor}"
            )
        if self.max_steps is not None and self.max_steps < 1:
            raise ValueError(f"train.max_steps must be >= 1 or null, got {self.max_steps}")
        if self.budget_minutes is not None and self.budget_minutes <= 0:
            raise ValueError(f"train.budget_minutes must be > 0 or null, got {self.budget_minutes}")
        if not 0.0 <= self.warmup_fraction < 1.0:
            raise ValueError(f"train.warmup_fraction must be in [0, 1), got {self.warmup_fraction}")
        if self.threads is not None and self.threads < 1:
            raise ValueError(f"train.threads must be >= 1 or null, got {self.threads}")
