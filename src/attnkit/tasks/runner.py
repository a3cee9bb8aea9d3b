"""Training and evaluating any task through its contract: the one place a run is made.

:func:`train` does for every task what each used to do its own way: threads, device and
process group (rank-aware under ``torchrun``), the resolved config saved with the run, data
preparation (rank 0 first, so assets are written once), the model, the shared
:class:`~attnkit.training.Trainer`, and at the end the test split scored once with the best
checkpoint (chosen on dev) — reported the same way for every task.

Example:
    $ attnkit train tag --set train.epochs=2       # the CLI calls train(...)
    >>> from attnkit.tasks.runner import flatten_metrics
    >>> flatten_metrics({"accuracy": 0.9, "per_class": {"a": 1.0}, "name": "x"})
    {'accuracy': 0.9}
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from attnkit import log
from attnkit.config import save_config
from attnkit.errors import AttnkitError
from attnkit.fileio import write_json
from attnkit.tasks.base import Task
from attnkit.tasks.runs import (
    CONFIG_FILE,
    Run,
    find_checkpoint,
    open_run,
    run_folder,
    task_of_run,
)
from attnkit.training import Trainer, seed_everything
from attnkit.training.distributed import barrier, main_first, setup


def flatten_metrics(metrics: dict[str, Any]) -> dict[str, float]:
    """The numeric top-level entries of a metrics dict (what goes into a training summary)."""
    return {
        k: v for k, v in metrics.items() if isinstance(v, int | float) and not isinstance(v, bool)
    }


def train(
    task: str | Task, cfg: Any, run_dir: str | Path, *, resume: bool = False, test: bool = True
) -> dict:
    """Train ``task`` with ``cfg`` into ``run_dir``, then score its best checkpoint on test.

    Args:
        task: a task name or object.
        cfg: the task's config (an instance of ``task.config_class``).
        run_dir: the run folder (created).
        resume: continue ``run_dir/last`` exactly where it stopped.
        test: score the test split at the end; ``False`` while a recipe is being chosen on
            dev (score the chosen run later, once, with :func:`evaluate`).

    Returns:
        The Trainer's summary (``steps``, ``best_<metric>``, ``dev_*`` ...), ``parameters``,
        and on rank 0 the test metrics as ``test_<name>``.
    """
    from attnkit.tasks import get_task

    task = get_task(task) if isinstance(task, str) else task
    run_dir = Path(run_dir)
    device, env = setup(cfg.train.device, cfg.train.threads)
    if env.is_main:
        run_dir.mkdir(parents=True, exist_ok=True)
        if not resume:  # a resumed run keeps its config until its checkpoint loads into cfg
            save_config(cfg, run_dir / CONFIG_FILE)
    with main_first(env) as first:
        prepared = task.prepare(cfg, run_dir, reuse=resume or not first)
    seed_everything(cfg.train.seed)
    model = task.build_model(cfg, prepared.assets).to(device)
    if cfg.train.init_from and not resume:
        start_from(model, task, cfg.train.init_from, log_it=env.is_main)
    parameters = sum(p.numel() for p in model.parameters())
    if env.is_main:
        log.info(f"data: {prepared.description}")
        log.info(
            f"model: {parameters / 1e6:.2f} M parameters on {device}, {env.world_size} process(es)"
        )
    trainer = Trainer(
        model,
        cfg.train,
        run_dir,
        loss_fn=lambda m, batch: task.loss(cfg, m, batch),
        batches=prepared.batches,
        evaluate=lambda m: task.validate(cfg, m, prepared),
        unit=task.unit,
        meta={"task": task.name, "parameters": parameters, **prepared.meta},
        resume=resume,
        after_eval=lambda m, metrics, previous: task.after_eval(cfg, m, metrics, previous),
    )
    if env.is_main and resume:
        save_config(cfg, run_dir / CONFIG_FILE)  # what the rest of the run trains with
    summary = trainer.fit()
    summary["parameters"] = parameters
    if env.is_main and test:
        scores = evaluate(open_run(run_dir, device=str(device.type)), "test")
        summary.update({f"test_{k}": v for k, v in flatten_metrics(scores).items()})
        shown = ", ".join(f"{k} {_show(v)}" for k, v in flatten_metrics(scores).items())
        log.info(f"test ({task.name}, best checkpoint chosen on dev): {shown}")
    barrier(env)
    return summary


def start_from(model: torch.nn.Module, task: Task, source: str | Path, *, log_it: bool) -> None:
    """Load the weights of the run ``source`` (its best checkpoint, or the checkpoint folder
    given) into ``model``: fine-tuning. Weights ``model`` has and the source lacks (a layer the
    new config adds, such as coverage) keep their initial values and are listed.

    Raises:
        AttnkitError: no run there, a run of another task, or weights of other shapes (a
            different vocabulary or model size).
    """
    from attnkit.training.checkpoint import load_model_state

    checkpoint = find_checkpoint(source)
    if task_of_run(run_folder(source)) != task.name:
        raise AttnkitError(f"train.init_from: {source} is not a {task.name!r} run")
    state, _ = load_model_state(checkpoint)
    own = model.state_dict()
    wrong = [k for k, v in state.items() if k in own and own[k].shape != v.shape]
    if wrong:
        raise AttnkitError(
            f"train.init_from: {source} has weights of other shapes ({', '.join(wrong[:3])}"
            f"{' ...' if len(wrong) > 3 else ''}): another vocabulary or model size"
        )
    missing, unexpected = model.load_state_dict(state, strict=False)
    if unexpected:
        raise AttnkitError(
            f"train.init_from: {source} has weights this model lacks: {', '.join(unexpected[:5])}"
        )
    if log_it:
        new = f"; new: {', '.join(missing)}" if missing else ""
        log.info(f"weights from {checkpoint}{new}")


def evaluate(run: Run | str | Path, split: str = "test") -> dict[str, Any]:
    """Score a run on ``split``; writes ``eval_<split>.json`` into the run folder.

    Raises:
        AttnkitError: no run there, or an unknown split.
    """
    run = run if isinstance(run, Run) else open_run(run)
    metrics = run.task.evaluate(run, split)
    write_json(run.path / f"eval_{split}.json", {"checkpoint": run.checkpoint.name, **metrics})
    return metrics


def _show(value: float) -> str:
    return f"{value:,.4g}" if isinstance(value, float) else f"{value:,}"


__all__ = ["evaluate", "flatten_metrics", "start_from", "train"]
