"""Run by ``test_ddp.py`` under torchrun: trains the toy regression with the shared Trainer.

Each rank sees every other batch (the Trainer shards them) and DDP averages the gradients,
so two ranks with batches of 8 must match one process whose batches are the pairs merged.
"""

import sys
from pathlib import Path

import torch

from attnkit.training import TrainConfig, Trainer, seed_everything

BATCH = 8


def data() -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(7)
    x = torch.randn(96, 4, generator=g)  # (N, 4)
    y = x @ torch.tensor([1.0, -2.0, 0.5, 3.0]) + 0.1 * torch.randn(96, generator=g)  # (N,)
    return x, y


def model() -> torch.nn.Module:
    seed_everything(0)
    return torch.nn.Sequential(torch.nn.Linear(4, 16), torch.nn.Tanh(), torch.nn.Linear(16, 1))


def batches(epoch: int, merge: int = 1) -> list[torch.Tensor]:
    """Index batches of BATCH (merge=1, what each DDP rank is sharded from) or of merged
    consecutive pairs (merge=2, the single-process equivalent of two ranks)."""
    order = torch.randperm(96, generator=torch.Generator().manual_seed(epoch))
    size = BATCH * merge
    return [order[i : i + size] for i in range(0, 96, size)]


def trainer(run_dir: Path, merge: int = 1) -> Trainer:
    x, y = data()

    def loss_fn(m, idx):
        return torch.nn.functional.mse_loss(m(x[idx]).squeeze(-1), y[idx]), len(idx)

    cfg = TrainConfig(epochs=2, lr=0.02, warmup_steps=2, progress=False, log_every=1)
    return Trainer(
        model(),
        cfg,
        run_dir,
        loss_fn=loss_fn,
        batches=lambda epoch: batches(epoch, merge),
        meta={"task": "toy"},
    )


if __name__ == "__main__":
    summary = trainer(Path(sys.argv[1])).fit()
    print(f"rank done, steps {summary['steps']}")
