"""One flat Trainer for every task: loop, evaluation, checkpoints, exact resume, DDP.

Tasks plug in three callables instead of subclassing:

* ``loss_fn(model, batch) -> (loss, n_units)``: the scalar to backpropagate and how many
  tokens/images it covered (for the units/s readout);
* ``batches(epoch) -> Iterable[batch]``: deterministic given the epoch (seed it with
  ``cfg.seed + epoch`` and a local ``torch.Generator``), so that a resumed run can skip the
  batches it already consumed;
* ``evaluate(model) -> dict[str, float]``: dev metrics, containing ``cfg.metric``.

Example:
    >>> import tempfile, torch
    >>> from pathlib import Path
    >>> model = torch.nn.Linear(1, 1)
    >>> data = [(torch.tensor([[1.0]]), torch.tensor([[2.0]]))] * 4
    >>> def loss_fn(m, b):
    ...     return torch.nn.functional.mse_loss(m(b[0]), b[1]), 1
    >>> cfg = TrainConfig(epochs=2, lr=0.1, progress=False)
    >>> out = Trainer(model, cfg, Path(tempfile.mkdtemp()), loss_fn=loss_fn,
    ...               batches=lambda epoch: data).fit()
    >>> out["steps"]
    8
"""

from __future__ import annotations

import contextlib
import csv
import itertools
import json
import math
import os
import random
import shutil
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist
from tqdm import tqdm

from attnkit.errors import AttnkitError
from attnkit.training.checkpoint import (
    average_states,
    load_trainer_state,
    save_model,
    save_trainer_state,
)
from attnkit.training.config import TrainConfig
from attnkit.training.schedule import lr_factor

LossFn = Callable[[torch.nn.Module, Any], tuple[torch.Tensor, int]]
BatchFn = Callable[[int], Iterable[Any]]
EvalFn = Callable[[torch.nn.Module], dict[str, float]]


def seed_everything(seed: int) -> None:
    """Seed Python's and torch's global generators (model init, dropout)."""
    random.seed(seed)
    torch.manual_seed(seed)


def bf16_is_fast(device: torch.device) -> bool:
    """Whether bfloat16 matmuls run natively on ``device`` (what ``bf16: auto`` turns on).

    CUDA: compute capability 8.0+ (``torch.cuda.is_bf16_supported``). CPU: AVX512-BF16 or
    AMX; without them oneDNN emulates bf16 and is several times slower than float32.

    Example:
        >>> isinstance(bf16_is_fast(torch.device("cpu")), bool)
        True
    """
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    return torch.cpu._is_avx512_bf16_supported() or torch.cpu._is_amx_tile_supported()


def resolve_bf16(setting: bool | str, device: torch.device) -> bool:
    """``TrainConfig.bf16`` as a bool: ``"auto"`` means :func:`bf16_is_fast`."""
    return bf16_is_fast(device) if setting == "auto" else bool(setting)


def default_device() -> torch.device:
    """CUDA when available, else CPU."""
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


class MetricsLog:
    """Append-only CSV of ``step, epoch, split, name, value, elapsed_s`` rows."""

    FIELDS = ("step", "epoch", "split", "name", "value", "elapsed_s")

    def __init__(self, path: Path, enabled: bool = True) -> None:
        self.path = path
        self.enabled = enabled
        if enabled and not path.exists():
            with path.open("w", newline="") as f:
                csv.writer(f).writerow(self.FIELDS)

    def write(self, step: int, epoch: int, split: str, metrics: dict[str, float], t: float):
        if not self.enabled:
            return
        with self.path.open("a", newline="") as f:
            w = csv.writer(f)
            for name, value in metrics.items():
                w.writerow((step, epoch, split, name, f"{value:.6g}", f"{t:.1f}"))


class Trainer:
    """Train a model with the shared recipe; see the module docstring for the callables.

    Args:
        model: the model (already on its device).
        cfg: the training settings.
        run_dir: where ``best/``, ``last/``, ``metrics.csv`` and ``curves.png`` go.
        loss_fn: ``(model, batch) -> (loss, n_units)``.
        batches: ``epoch -> iterable of batches``, deterministic per epoch.
        evaluate: ``model -> dev metrics``; None evaluates nothing (best = last).
        unit: the unit of ``n_units`` for the progress bar ("tok", "img", "sent").
        meta: JSON-able description saved with every checkpoint (task, model config, vocab).
        resume: continue from ``run_dir/last`` exactly where it stopped.
    """

    def __init__(
        self,
        model: torch.nn.Module,
        cfg: TrainConfig,
        run_dir: Path,
        *,
        loss_fn: LossFn,
        batches: BatchFn,
        evaluate: EvalFn | None = None,
        unit: str = "tok",
        meta: dict[str, Any] | None = None,
        resume: bool = False,
    ) -> None:
        self.cfg = cfg
        self.run_dir = Path(run_dir)
        self.loss_fn, self.batches, self.evaluate_fn = loss_fn, batches, evaluate
        self.unit = unit
        self.meta = dict(meta or {})
        self.world = int(os.environ.get("WORLD_SIZE", "1"))
        self.rank = int(os.environ.get("RANK", "0"))
        self.is_main = self.rank == 0
        self.model = model
        self.device = next(model.parameters()).device
        self.bf16 = resolve_bf16(cfg.bf16, self.device)
        self.train_model = self._maybe_ddp(model)
        self.optimizer = self._make_optimizer()
        self.state: dict[str, Any] = {
            "step": 0,
            "epoch": 0,
            "batch_in_epoch": 0,
            "best": None,
            "bad_evals": 0,
            "plateau_scale": 1.0,
            "elapsed": 0.0,
            "units": 0,
            "window_loss": 0.0,  # sum of step losses since the last metrics.csv row
            "window_steps": 0,
            "snapshots": [],
            "summary": {},
        }
        if self.is_main:
            self.run_dir.mkdir(parents=True, exist_ok=True)
            if self.meta:
                (self.run_dir / "meta.json").write_text(json.dumps(self.meta, indent=1))
        self.log = MetricsLog(self.run_dir / "metrics.csv", enabled=self.is_main)
        if resume:
            self._resume()

    # ----- setup -----------------------------------------------------------------------------
    def _maybe_ddp(self, model: torch.nn.Module) -> torch.nn.Module:
        if self.world <= 1:
            return model
        if not dist.is_initialized():
            backend = "nccl" if self.device.type == "cuda" else "gloo"
            dist.init_process_group(backend)
        ids = [self.device.index] if self.device.type == "cuda" else None
        return torch.nn.parallel.DistributedDataParallel(model, device_ids=ids)

    def _make_optimizer(self) -> torch.optim.Optimizer:
        cfg = self.cfg
        params = [p for p in self.model.parameters() if p.requires_grad]
        if cfg.optimizer == "sgd":
            return torch.optim.SGD(
                params,
                lr=cfg.lr,
                momentum=cfg.momentum,
                nesterov=True,
                weight_decay=cfg.weight_decay,
            )
        return torch.optim.AdamW(params, lr=cfg.lr, weight_decay=cfg.weight_decay)

    def _resume(self) -> None:
        last = self.run_dir / "last"
        if not last.is_dir():
            raise AttnkitError(f"nothing to resume: no checkpoint at {last}")
        from attnkit.training.checkpoint import load_into

        load_into(self.model, last)
        saved = load_trainer_state(last)
        self.optimizer.load_state_dict(saved.pop("optimizer"))
        torch.set_rng_state(saved.pop("torch_rng"))
        random.setstate(saved.pop("python_rng"))
        self.state.update(saved)

    # ----- checkpoints ------------------------------------------------------------------------
    def save_last(self, rng: torch.Tensor | None = None, py_rng: Any = None) -> None:
        """Write ``run_dir/last`` with everything needed to resume exactly."""
        if not self.is_main:
            return
        state = dict(self.state)
        state["optimizer"] = self.optimizer.state_dict()
        state["torch_rng"] = torch.get_rng_state() if rng is None else rng
        state["python_rng"] = random.getstate() if py_rng is None else py_rng
        save_trainer_state(self.run_dir / "last", self.model, self.meta, state)

    def _improved(self, value: float) -> bool:
        best = self.state["best"]
        if best is None:
            return True
        return value < best if self.cfg.metric_mode == "min" else value > best

    # ----- evaluation --------------------------------------------------------------------------
    def _evaluate(self) -> dict[str, float]:
        if self.evaluate_fn is None:
            return {}
        self.model.eval()
        with torch.no_grad():
            metrics = self.evaluate_fn(self.model)
        self.model.train()
        if self.cfg.metric not in metrics:
            raise AttnkitError(
                f"evaluate() returned {sorted(metrics)}; it must include the metric "
                f"{self.cfg.metric!r} (train.metric)"
            )
        return metrics

    def _after_eval(self, metrics: dict[str, float]) -> bool:
        """Track the best checkpoint, plateau and early stopping; True means stop."""
        st, cfg = self.state, self.cfg
        self.log.write(st["step"], st["epoch"], "dev", metrics, st["elapsed"])
        value = metrics.get(cfg.metric)
        stop = False
        if value is None or self._improved(value):
            st["best"], st["bad_evals"] = value, 0
            save_model(self.run_dir / "best", self.model, {**self.meta, "step": st["step"]})
        else:
            st["bad_evals"] += 1
            if cfg.schedule == "plateau":
                st["plateau_scale"] *= cfg.plateau_factor
            stop = cfg.patience is not None and st["bad_evals"] >= cfg.patience
        st["summary"] = {f"dev_{k}": v for k, v in metrics.items()}
        if cfg.average_last > 0:
            snap = self.run_dir / "snapshots" / f"step-{st['step']:08d}"
            save_model(snap, self.model, self.meta)
            st["snapshots"] = [*st["snapshots"], str(snap)][-cfg.average_last :]
            for old in (self.run_dir / "snapshots").iterdir():
                if str(old) not in st["snapshots"]:
                    shutil.rmtree(old, ignore_errors=True)
        return stop

    def _average_snapshots(self) -> None:
        if len(self.state["snapshots"]) < 2 or self.evaluate_fn is None:
            return
        backup = {k: v.clone() for k, v in self.model.state_dict().items()}
        self.model.load_state_dict(average_states([Path(p) for p in self.state["snapshots"]]))
        metrics = self._evaluate()
        value = metrics[self.cfg.metric]
        self.log.write(self.state["step"], self.state["epoch"], "dev_averaged", metrics, 0.0)
        self.state["summary"].update({f"averaged_{k}": v for k, v in metrics.items()})
        if self._improved(value):
            self.state["best"] = value
            meta = {**self.meta, "averaged": len(self.state["snapshots"])}
            save_model(self.run_dir / "best", self.model, meta)
        self.model.load_state_dict(backup)

    # ----- the loop ----------------------------------------------------------------------------
    def _progress(self, steps_per_epoch: int | None) -> float:
        st, cfg = self.state, self.cfg
        fractions = []
        if cfg.max_steps:
            fractions.append(st["step"] / cfg.max_steps)
        elif steps_per_epoch:
            fractions.append(st["step"] / (steps_per_epoch * cfg.epochs))
        if cfg.budget_minutes:
            fractions.append(st["elapsed"] / (cfg.budget_minutes * 60))
        return max(fractions, default=0.0)

    def _out_of_budget(self) -> bool:
        st, cfg = self.state, self.cfg
        over = bool(
            (cfg.max_steps is not None and st["step"] >= cfg.max_steps)
            or (cfg.budget_minutes is not None and st["elapsed"] >= cfg.budget_minutes * 60)
        )
        if self.world > 1:  # every rank must stop at the same step
            flag = torch.tensor([float(over)], device=self.device)
            dist.all_reduce(flag, op=dist.ReduceOp.MAX)
            over = bool(flag.item())
        return over

    def _shard(self, batches: Iterable[Any]) -> Iterable[Any]:
        if self.world <= 1:
            return batches
        return itertools.islice(batches, self.rank, None, self.world)

    def _train_step(self, batch: Any, progress: float) -> tuple[float, int]:
        cfg = self.cfg
        for group in self.optimizer.param_groups:
            group["lr"] = (
                cfg.lr
                * lr_factor(cfg, self.state["step"], progress)
                * (self.state["plateau_scale"])
            )
        self.optimizer.zero_grad(set_to_none=True)
        autocast = torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.bf16)
        with autocast:
            loss, n_units = self.loss_fn(self.train_model, batch)
        if not torch.isfinite(loss):
            raise AttnkitError(
                f"training diverged at step {self.state['step']} (loss {loss.item()}); "
                "lower train.lr or enable train.grad_clip"
            )
        loss.backward()
        if cfg.grad_clip:
            torch.nn.utils.clip_grad_norm_(self.model.parameters(), cfg.grad_clip)
        self.optimizer.step()
        return loss.item(), int(n_units)

    def fit(self) -> dict[str, float]:
        """Train until epochs, max_steps, the time budget or early stopping say stop.

        Returns:
            ``steps``, ``epochs``, ``train_seconds``, ``units_per_second``, ``best_<metric>``
            and the last dev metrics as ``dev_<name>``.

        Raises:
            KeyboardInterrupt: after saving ``last/`` so that ``resume=True`` continues.
        """
        self._loop()
        return self._summary()

    def _loop(self) -> None:
        st, cfg = self.state, self.cfg
        self.train_model.train()
        stop = False
        last_eval_step = st["step"] if st["step"] else -1
        while st["epoch"] < cfg.epochs and not stop:
            epoch_batches = self.batches(st["epoch"])
            steps = len(epoch_batches) if hasattr(epoch_batches, "__len__") else None
            if steps is not None and self.world > 1:
                steps //= self.world
            it = itertools.islice(self._shard(epoch_batches), steps)
            it = itertools.islice(it, st["batch_in_epoch"], None)
            bar = tqdm(
                total=steps,
                initial=st["batch_in_epoch"],
                unit="step",
                leave=False,
                desc=f"epoch {st['epoch'] + 1}/{cfg.epochs}",
                disable=not (cfg.progress and self.is_main),
            )
            ema = None
            t0 = time.perf_counter() - st["elapsed"]
            units0, t_units = st["units"], time.perf_counter()
            for batch in it:
                if self._out_of_budget():
                    stop = True
                    break
                rng, py_rng = torch.get_rng_state(), random.getstate()
                try:
                    loss, n = self._train_step(batch, self._progress(steps))
                except KeyboardInterrupt:
                    st["elapsed"] = time.perf_counter() - t0
                    self.save_last(rng, py_rng)
                    bar.close()
                    raise
                st["step"] += 1
                st["batch_in_epoch"] += 1
                st["units"] += n * self.world
                st["elapsed"] = time.perf_counter() - t0
                ema = loss if ema is None else 0.98 * ema + 0.02 * loss
                rate = (st["units"] - units0) / max(time.perf_counter() - t_units, 1e-9)
                bar.update(1)
                bar.set_postfix(
                    loss=f"{ema:.3f}",
                    **{f"{self.unit}/s": f"{rate:,.0f}"},
                    lr=f"{self.optimizer.param_groups[0]['lr']:.2e}",
                )
                st["window_loss"] += loss
                st["window_steps"] += 1
                if st["step"] % cfg.log_every == 0:
                    lr = self.optimizer.param_groups[0]["lr"]
                    mean = st["window_loss"] / st["window_steps"]
                    st["window_loss"], st["window_steps"] = 0.0, 0
                    self.log.write(
                        st["step"],
                        st["epoch"],
                        "train",
                        {"loss": mean, "lr": lr, f"{self.unit}_per_s": rate},
                        st["elapsed"],
                    )
                if cfg.eval_every and st["step"] % cfg.eval_every == 0:
                    stop = self._eval_and_save()
                    last_eval_step = st["step"]
                    if stop:
                        break
            bar.close()
            if stop:
                break
            st["epoch"] += 1
            st["batch_in_epoch"] = 0
            if not cfg.eval_every:
                stop = self._eval_and_save()
                last_eval_step = st["step"]
        if last_eval_step != st["step"]:
            self._eval_and_save()
        if cfg.average_last and self.is_main:
            self._average_snapshots()
        self.save_last()
        if self.is_main:
            from attnkit.viz import plot_curves

            with contextlib.suppress(Exception):  # a plot must never lose a finished run
                plot_curves(self.run_dir / "metrics.csv", self.run_dir / "curves.png")

    def _eval_and_save(self) -> bool:
        stop = False
        if self.is_main:
            stop = self._after_eval(self._evaluate())
            self.save_last()
        if self.world > 1:
            flags = [stop, self.state["plateau_scale"]]
            dist.broadcast_object_list(flags, src=0)
            stop, self.state["plateau_scale"] = flags
        return stop

    def _summary(self) -> dict[str, float]:
        st = self.state
        out: dict[str, float] = {
            "steps": st["step"],
            "epochs": st["epoch"],
            "train_seconds": round(st["elapsed"], 1),
            "units_per_second": round(st["units"] / max(st["elapsed"], 1e-9), 1),
        }
        if st["best"] is not None:
            out[f"best_{self.cfg.metric}"] = st["best"]
        out.update(st["summary"])
        return {k: v for k, v in out.items() if not (isinstance(v, float) and math.isnan(v))}
