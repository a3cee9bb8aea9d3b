"""Run by ``test_faults.py``: the toy regression of ``ddp_worker.py`` trained by the real
Trainer in a process that kills itself with SIGKILL at a chosen moment::

    python fault_worker.py RUN MOMENT N

MOMENT is one of

* ``step``: as step N + 1 starts (N steps done; ``last/`` holds the evaluation before);
* ``file``: halfway through writing ``trainer.safetensors`` of the N-th ``last/`` checkpoint,
  its ``model.safetensors`` and ``meta.json`` already written in the temporary folder;
* ``rename``: between the two renames of the N-th ``last/`` checkpoint (``last/`` moved aside
  as ``.last.old``, the finished new one not yet renamed into place);
* ``nan`` (under torchrun, nothing killed): rank 1 alone gets a NaN loss on the batches that
  hold example N.

The test imports this module for the same toy (:func:`trainer`) in its own process.
"""

import math
import os
import signal
import sys
from pathlib import Path

import torch
from ddp_worker import batches, data  # beside this file (the test puts it on sys.path)
from safetensors.torch import save

from attnkit.training import TrainConfig, Trainer, checkpoint, seed_everything

X, Y = data()
EVAL_EVERY = 4  # last/ is written at steps 4, 8, 12 ...


def model(dropout: float) -> torch.nn.Module:
    seed_everything(0)
    return torch.nn.Sequential(
        torch.nn.Linear(4, 16), torch.nn.Tanh(), torch.nn.Dropout(dropout), torch.nn.Linear(16, 1)
    )


def toy_loss(m: torch.nn.Module, idx: torch.Tensor) -> tuple[torch.Tensor, int]:
    return torch.nn.functional.mse_loss(m(X[idx]).squeeze(-1), Y[idx]), len(idx)


def poisoned(example: int, *, kind: str = "loss", rank: int | None = None):
    """The toy loss, with a NaN loss (``kind="loss"``) or an infinite gradient (``"grad"``, the
    loss stays finite) on every batch that holds ``example`` — on ``rank`` only, if given."""

    def loss(m: torch.nn.Module, idx: torch.Tensor) -> tuple[torch.Tensor, int]:
        mine = rank is None or rank == int(os.environ.get("RANK", "0"))
        hit = mine and example in idx
        pred = m(X[idx]).squeeze(-1)  # (B,)
        if hit and kind == "grad":
            pred.register_hook(lambda g: g * math.inf)
        value = torch.nn.functional.mse_loss(pred, Y[idx])
        return (value * math.nan if hit and kind == "loss" else value), len(idx)

    return loss


def evaluate(m: torch.nn.Module) -> dict[str, float]:
    return {"loss": torch.nn.functional.mse_loss(m(X).squeeze(-1), Y).item()}


def trainer(
    run_dir: Path,
    *,
    resume: bool = False,
    loss=toy_loss,
    batch_fn=None,
    merge: int = 1,
    dropout: float = 0.2,
    **cfg,
) -> Trainer:
    """Two epochs of 12 steps (``merge=2``: 6), cosine with warm-up, dropout: a resumed run
    must restore the optimizer, the schedule, the generators and the data position."""
    settings = dict(epochs=2, lr=0.02, warmup_steps=3, eval_every=EVAL_EVERY, log_every=1)
    return Trainer(
        model(dropout),
        TrainConfig(**{**settings, "progress": False, **cfg}),
        run_dir,
        loss_fn=loss,
        batches=batch_fn or (lambda epoch: batches(epoch, merge)),
        evaluate=evaluate,
        meta={"task": "toy"},
        resume=resume,
    )


def die() -> None:
    sys.stdout.flush()
    os.kill(os.getpid(), signal.SIGKILL)


def kill_at_step(n: int):
    calls = 0

    def loss(m, idx):
        nonlocal calls
        calls += 1
        if calls == n + 1:
            die()
        return toy_loss(m, idx)

    return loss


def kill_in_file(n: int) -> None:
    """Make the n-th write of ``last/trainer.safetensors`` stop halfway, then die."""
    real, count = checkpoint.save_file, 0

    def half_then_die(tensors, path):
        nonlocal count
        path = Path(path)
        if path.name == checkpoint.TRAINER_TENSORS and path.parent.name.startswith(".last.tmp-"):
            count += 1
            if count == n:
                payload = save(tensors)
                path.write_bytes(payload[: len(payload) // 2])
                die()
        real(tensors, path)

    checkpoint.save_file = half_then_die


def kill_in_rename(n: int) -> None:
    """Die just before the n-th ``.last.tmp-* -> last`` rename (``last/`` already set aside)."""
    real, count = os.replace, 0

    def rename_or_die(src, dst):
        nonlocal count
        if Path(src).name.startswith(".last.tmp-"):
            count += 1
            if count == n:
                die()
        real(src, dst)

    os.replace = rename_or_die


if __name__ == "__main__":
    torch.set_num_threads(1)
    run, moment, n = Path(sys.argv[1]), sys.argv[2], int(sys.argv[3])
    if moment == "nan":
        out = trainer(run, merge=1, dropout=0.0, loss=poisoned(n, rank=1)).fit()
        print(f"rank done, steps {out['steps']}, skipped {out.get('skipped_steps', 0)}")
        sys.exit(0)
    loss = kill_at_step(n) if moment == "step" else toy_loss
    if moment == "file":
        kill_in_file(n)
    elif moment == "rename":
        kill_in_rename(n)
    trainer(run, loss=loss).fit()
    print("not killed")
