"""The training hyperparameters every task shares."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal


@dataclass
class TrainConfig:
    """Optimisation, schedule, evaluation and stopping settings for :class:`Trainer`.

    Example:
        >>> TrainConfig(lr=3e-4, epochs=2).schedule
        'cosine'
    """

    epochs: int = 10  # passes over the training batches
    max_steps: int | None = None  # stop after this many optimizer steps (None: epochs decide)
    budget_minutes: float | None = None  # stop after this much wall-clock training time
    lr: float = 1e-3  # peak learning rate
    weight_decay: float = 0.0  # decoupled weight decay (AdamW) / L2 (SGD)
    optimizer: Literal["adamw", "sgd"] = "adamw"
    momentum: float = 0.9  # SGD momentum (Nesterov)
    schedule: Literal["constant", "cosine", "linear", "inverse_sqrt", "plateau"] = "cosine"
    warmup_steps: int = 0  # linear warm-up from 0 to lr
    min_lr_ratio: float = 0.0  # cosine/linear decay floor, as a fraction of lr
    plateau_factor: float = 0.5  # plateau: multiply lr by this when the metric stalls
    grad_clip: float | None = 1.0  # max global grad norm (None: no clipping)
    eval_every: int = 0  # evaluate every N steps (0: at the end of each epoch)
    patience: int | None = None  # early stopping: evaluations without improvement
    metric: str = "loss"  # the dev metric that picks the best checkpoint
    metric_mode: Literal["min", "max"] = "min"
    seed: int = 0  # one seed for init, data order and dropout
    log_every: int = 50  # steps between rows of training loss in metrics.csv
    bf16: bool | Literal["auto"] = False  # bfloat16 autocast; "auto": where the hardware has it
    average_last: int = 0  # average the weights of the last N evaluated checkpoints at the end
    progress: bool = True  # show a progress bar
