"""One flat Trainer for every task: loop, evaluation, checkpoints, exact resume, DDP.

Tasks plug in three callables instead of subclassing:

* ``loss_fn(model, batch) -> (loss, n_units)``: the *mean* loss over the ``n_units`` tokens or
  images of the batch, computed by calling ``model(...)`` (under ``torchrun`` the model is a
  ``DistributedDataParallel`` wrapper whose forward must run for gradients to be averaged);
* ``batches(epoch) -> Iterable[batch]``: deterministic given the epoch (seed it with
  ``cfg.seed + epoch`` and a local ``torch.Generator``), so that a resumed run can skip the
  batches it already consumed; a batch is tensors (or dicts / tuples of them) on the CPU,
  which the Trainer moves to the model's device. A sequence (``len`` and indexing) lets a
  resumed run or a rank skip batches without building them;
* ``evaluate(model) -> dict[str, float]``: dev metrics, containing ``cfg.metric``.

One optimizer step takes ``cfg.accumulate`` batches on each of the WORLD_SIZE processes, and
its gradient is that of the mean loss over all their units, however they are spread: two
ranks give the same model as one process accumulating their two batches.

Randomness: the global generators run on from the seed the model was built with; their
state is saved with ``last/`` (every rank's, under torchrun), so a resumed run draws what the
uninterrupted one drew. Ranks other than 0 start from their own seed, so dropout differs
between ranks (DDP has already given every rank rank 0's initial weights).

A time budget (``budget_minutes``) is turned into a number of steps once the step rate has
been measured over a quarter of the budget (the schedule follows the clock until then), and
that plan is stored with the run: the learning rate then follows the step, so ``resume``
continues the same schedule on any machine. (Measured over the first 2% instead, a 15-minute
run's plan came out 13% too long: step times vary with the batches.)

Faults: a step whose loss or gradient norm is not finite is skipped (no update, its gradients
dropped, a warning logged; it does not count as a step) and training stops with an error after
``max_bad_steps`` in a row, leaving ``last/`` and ``best/`` as the last good evaluation wrote
them. Under torchrun every rank takes the same decision. A process killed at any moment (even
while writing a checkpoint) leaves a complete ``last/`` that ``resume`` continues from, as if
the run had never stopped; ``metrics.csv`` loses the rows logged after it.

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
import io
import math
import random
import shutil
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist
from tqdm import tqdm

from attnkit import log
from attnkit.errors import AttnkitError
from attnkit.fileio import atomic_write, write_json
from attnkit.training.checkpoint import (
    TRAINER_JSON,
    average_states,
    load_into,
    load_trainer_state,
    readable,
    save_model,
    save_trainer_state,
)
from attnkit.training.config import TrainConfig
from attnkit.training.distributed import DistEnv
from attnkit.training.schedule import lr_factor, warmup_steps

LossFn = Callable[[torch.nn.Module, Any], tuple[torch.Tensor, int]]
BatchFn = Callable[[int], Iterable[Any]]
EvalFn = Callable[[torch.nn.Module], dict[str, float]]
AfterEvalFn = Callable[[torch.nn.Module, dict[str, float], dict[str, float]], None]

CALIBRATE_AFTER = 0.25  # share of a time budget spent measuring the step rate
BUDGET_OVERRUN = 1.5  # a planned run still stops at this multiple of its time budget


def seed_everything(seed: int) -> None:
    """Seed Python's and torch's global generators (model init, dropout)."""
    random.seed(seed)
    torch.manual_seed(seed)


def step_seed(seed: int, rank: int, step: int) -> int:
    """A seed for rank ``rank`` at step ``step`` of a run seeded ``seed`` (a 63-bit mix).

    Example:
        >>> step_seed(0, 0, 5) != step_seed(0, 1, 5) != step_seed(0, 0, 6)
        True
    """
    mixed = (seed * 0x9E3779B97F4A7C15 + rank * 0xC2B2AE3D27D4EB4F + step * 0x165667B19E3779F9) & (
        2**64 - 1
    )
    return mixed >> 1


def to_device(batch: Any, device: torch.device) -> Any:
    """``batch`` with every tensor inside (dicts, lists, tuples) moved to ``device``."""
    if isinstance(batch, torch.Tensor):
        return batch.to(device, non_blocking=True)
    if isinstance(batch, dict):
        return {k: to_device(v, device) for k, v in batch.items()}
    if isinstance(batch, list | tuple):
        return type(batch)(to_device(v, device) for v in batch)
    return batch


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

    def keep_until(self, step: int) -> None:
        """Drop the rows after ``step`` (and a row a killed process left half-written): what
        a run resumed from ``step`` logs again."""
        if not (self.enabled and self.path.exists()):
            return
        text = self.path.read_text()
        complete = text[: text.rfind("\n") + 1]
        rows = list(csv.reader(io.StringIO(complete)))
        kept = [r for r in rows[1:] if r and r[0].isdigit() and int(r[0]) <= step]
        if complete != text or len(kept) < len(rows) - 1:
            out = io.StringIO()
            csv.writer(out).writerows([list(self.FIELDS), *kept])
            atomic_write(self.path, out.getvalue())


class Trainer:
    """Train a model with the shared recipe; see the module docstring for the callables.

    Args:
        model: the model (already on its device).
        cfg: the training settings.
        run_dir: where ``best/``, ``last/``, ``metrics.csv`` and ``curves.png`` go.
        loss_fn: ``(model, batch) -> (mean loss, n_units)``.
        batches: ``epoch -> iterable of batches``, deterministic per epoch.
        evaluate: ``model -> dev metrics``; None evaluates nothing (best = last).
        unit: the unit of ``n_units`` for the progress bar ("tok", "img", "sent").
        meta: JSON-able description saved with every checkpoint (task, model config, vocab).
        resume: continue from ``run_dir/last`` exactly where it stopped.
        after_eval: ``(model, dev metrics, the previous evaluation's metrics) -> None``, called
            on rank 0 after each evaluation, once ``best/`` is saved and before ``last/`` is:
            a task may change how its model trains from then on (MemN2N's linear start ends
            when the dev loss stops falling). What it changes must be in the model's
            parameters or buffers, so that checkpoints keep it (and DDP copies rank 0's
            buffers to the other ranks).
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
        after_eval: AfterEvalFn | None = None,
    ) -> None:
        self.cfg = cfg
        self.run_dir = Path(run_dir)
        self.loss_fn, self.batches, self.evaluate_fn = loss_fn, batches, evaluate
        self.after_eval_fn = after_eval
        self.unit = unit
        self.meta = dict(meta or {})
        self.env = DistEnv.from_environ()
        self.world, self.rank, self.is_main = self.env.world_size, self.env.rank, self.env.is_main
        self.model = model
        self.device = next(model.parameters()).device
        self.bf16 = resolve_bf16(cfg.bf16, self.device)
        self.train_model = self._maybe_ddp(model)
        self.optimizer = self._make_optimizer()
        self.state: dict[str, Any] = {
            "step": 0,
            "epoch": 0,
            "batch_in_epoch": 0,  # steps of the current epoch done (skipped ones included)
            "best": None,
            "bad_evals": 0,
            "plateau_scale": 1.0,
            "elapsed": 0.0,
            "units": 0,
            "window_loss": 0.0,  # sum of step losses since the last metrics.csv row
            "window_steps": 0,
            "planned_steps": None,  # a time budget converted into steps (see the module doc)
            "rate_mark": None,  # (step, elapsed) where the step rate is measured from
            "snapshots": [],
            "summary": {},
            "bad_steps": 0,  # non-finite steps in a row (each skipped)
            "skipped_steps": 0,
        }
        if self.is_main:
            self.run_dir.mkdir(parents=True, exist_ok=True)
            if self.meta:
                write_json(self.run_dir / "meta.json", self.meta)
        self.log = MetricsLog(self.run_dir / "metrics.csv", enabled=self.is_main)
        self.saved_step: int | None = None  # the step last/ holds
        if resume:
            self._resume()
        elif self.rank > 0:
            self._reseed(step=0)

    def _reseed(self, step: int) -> None:
        seed = step_seed(self.cfg.seed, self.rank, step)
        torch.manual_seed(seed)
        random.seed(seed)

    # ----- setup -----------------------------------------------------------------------------
    def _maybe_ddp(self, model: torch.nn.Module) -> torch.nn.Module:
        if self.world <= 1:
            return model
        if not dist.is_initialized():
            dist.init_process_group("nccl" if self.device.type == "cuda" else "gloo")
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
                nesterov=cfg.momentum > 0,  # torch refuses Nesterov without momentum
                weight_decay=cfg.weight_decay,
            )
        return torch.optim.AdamW(params, lr=cfg.lr, weight_decay=cfg.weight_decay)

    def _resume(self) -> None:
        last = self.run_dir / "last"
        if not readable(last).is_dir():
            raise AttnkitError(f"nothing to resume: no checkpoint at {last}")
        load_into(self.model, last)
        saved = load_trainer_state(last)
        try:
            self._restore(saved)
        except (KeyError, TypeError, ValueError, RuntimeError) as e:
            where = readable(last) / TRAINER_JSON
            raise AttnkitError(
                f"checkpoint file {where} is corrupt or from another run: {e}"
            ) from None
        self.saved_step = self.state["step"]
        self.log.keep_until(self.saved_step)

    def _restore(self, saved: dict[str, Any]) -> None:
        """Optimizer, counters and generators from a loaded trainer state."""
        self.optimizer.load_state_dict(saved.pop("optimizer"))
        for group in self.optimizer.param_groups:
            for p in group["params"]:
                for name, value in self.optimizer.state.get(p, {}).items():
                    if isinstance(value, torch.Tensor) and value.dim() and value.shape != p.shape:
                        shapes = f"{list(value.shape)} for a weight of shape {list(p.shape)}"
                        raise ValueError(f"optimizer {name} of shape {shapes}")
        states = saved.pop("rng", None)
        if states is None and "torch_rng" in saved:  # a run saved by attnkit before 0.2
            states = [{"torch": saved.pop("torch_rng"), "python": saved.pop("python_rng")}]
        for key in ("step", "epoch", "batch_in_epoch"):
            if not isinstance(saved.get(key), int) or saved[key] < 0:
                raise ValueError(f"{key} is {saved.get(key)!r}, not a count")
        self.state.update(saved)
        if states is not None and self.rank < len(states):
            torch.set_rng_state(states[self.rank]["torch"])
            random.setstate(states[self.rank]["python"])
        else:  # this rank's state was not saved (an interrupt under torchrun): a fresh stream
            self._reseed(step=self.state["step"])

    # ----- checkpoints ------------------------------------------------------------------------
    @staticmethod
    def _rng_state() -> dict[str, Any]:
        return {"torch": torch.get_rng_state(), "python": random.getstate()}

    def save_last(self, rng: list[dict[str, Any]] | None = None) -> None:
        """Write ``run_dir/last`` with everything needed to resume exactly.

        Collective under torchrun (every rank's generator state is gathered) unless ``rng``
        (the generator states to store) is given.
        """
        if rng is None:
            rng = [self._rng_state()]
            if self.world > 1:
                rng = [None] * self.world
                dist.all_gather_object(rng, self._rng_state())
        self.saved_step = self.state["step"]
        if not self.is_main:
            return
        state = dict(self.state)
        state["optimizer"] = self.optimizer.state_dict()
        state["rng"] = rng
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

    # ----- how long ----------------------------------------------------------------------------
    def _epochs(self, steps_per_epoch: int | None) -> int:
        """``cfg.epochs``, or more when they would give fewer than ``cfg.min_steps`` updates
        (a small corpus); a time budget decides on its own."""
        cfg = self.cfg
        if not (cfg.min_steps and steps_per_epoch) or cfg.budget_minutes:
            return cfg.epochs
        return max(cfg.epochs, math.ceil(cfg.min_steps / steps_per_epoch))

    def _step_limit(self, steps_per_epoch: int | None) -> float:
        """The steps this run will take at most, from max_steps, epochs and the budget plan."""
        cfg, st = self.cfg, self.state
        limits = [math.inf]
        if cfg.max_steps:
            limits.append(cfg.max_steps)
        if steps_per_epoch:
            limits.append(steps_per_epoch * self._epochs(steps_per_epoch))
        if st["planned_steps"]:
            limits.append(st["planned_steps"])
        return min(limits)

    def _progress(self, steps_per_epoch: int | None) -> float:
        """Fraction of the run done, for the decaying schedules."""
        st, cfg = self.state, self.cfg
        limit = self._step_limit(steps_per_epoch)
        if cfg.budget_minutes and st["planned_steps"] is None:  # still measuring the rate
            by_time = st["elapsed"] / (cfg.budget_minutes * 60)
            return max(by_time, st["step"] / limit if math.isfinite(limit) else 0.0)
        return st["step"] / limit if math.isfinite(limit) else 0.0

    def _warmup(self, steps_per_epoch: int | None) -> float:
        """Warm-up steps now. With ``warmup_fraction`` under a budget not yet planned, the
        total is what the pace so far says the budget will allow."""
        cfg, st = self.cfg, self.state
        total = self._step_limit(steps_per_epoch)
        if cfg.budget_minutes and st["planned_steps"] is None and st["elapsed"] > 0:
            total = min(total, st["step"] * cfg.budget_minutes * 60 / st["elapsed"])
        return warmup_steps(cfg, total)

    def describe_plan(self, steps_per_epoch: int | None) -> str:
        """One line: how many updates this run plans and how it warms up."""
        cfg = self.cfg
        if cfg.budget_minutes and not self.state["planned_steps"]:
            updates = (
                f"a {cfg.budget_minutes:g}-minute budget "
                f"(turned into steps after {CALIBRATE_AFTER:.0%} of it)"
            )
        else:
            epochs = self._epochs(steps_per_epoch)
            limit = self._step_limit(steps_per_epoch)
            per = f"{epochs} epochs x {steps_per_epoch:,} steps" if steps_per_epoch else "steps"
            updates = f"{per} = {limit:,.0f} updates" if math.isfinite(limit) else per
            if epochs > cfg.epochs:
                updates += f" (train.min_steps {cfg.min_steps:,})"
        if cfg.warmup_fraction:
            warm = self._warmup(steps_per_epoch)
            planning = cfg.budget_minutes and not self.state["planned_steps"]
            shown = (
                "of the planned updates"
                if planning or not math.isfinite(warm)
                else (f"{warm:,.0f} steps")
            )
            warmup = f"warm-up {cfg.warmup_fraction:.1%} ({shown})"
        else:
            warmup = f"warm-up {cfg.warmup_steps:,} steps"
        return f"plan: {updates}, {warmup}, {cfg.schedule} schedule, lr {cfg.lr:g}"

    def _plan_budget(self) -> None:
        """Once a quarter of the budget is spent, turn the rest into steps at the measured rate."""
        st, cfg = self.state, self.cfg
        if not cfg.budget_minutes or st["planned_steps"] is not None:
            return
        budget = cfg.budget_minutes * 60
        if st["rate_mark"] is None:
            if st["step"] >= 2:  # the first steps pay for warm-up allocations: skip them
                st["rate_mark"] = (st["step"], st["elapsed"])
            return
        mark_step, mark_time = st["rate_mark"]
        if st["elapsed"] < CALIBRATE_AFTER * budget or st["step"] - mark_step < 3:
            return
        rate = (st["step"] - mark_step) / max(st["elapsed"] - mark_time, 1e-9)  # steps/s
        st["planned_steps"] = st["step"] + max(1, int(rate * (budget - st["elapsed"])))
        if self.is_main:
            warm = warmup_steps(cfg, st["planned_steps"])
            log.info(
                f"plan: the {cfg.budget_minutes:g}-minute budget at {rate:.2f} steps/s is "
                f"{st['planned_steps']:,} updates, warm-up {warm:,.0f} steps"
            )

    def _out_of_budget(self, steps_per_epoch: int | None) -> bool:
        st, cfg = self.state, self.cfg
        over = st["step"] >= self._step_limit(steps_per_epoch)
        if cfg.budget_minutes is not None:
            budget = cfg.budget_minutes * 60
            cap = BUDGET_OVERRUN * budget if st["planned_steps"] else budget
            over = over or st["elapsed"] >= cap
        return over

    def _sync_elapsed(self) -> None:
        """Every rank takes the slowest rank's clock, so all make the same decisions."""
        if self.world > 1:
            t = torch.tensor([self.state["elapsed"]], dtype=torch.float64, device=self.device)
            dist.all_reduce(t, op=dist.ReduceOp.MAX)
            self.state["elapsed"] = t.item()

    # ----- the loop ----------------------------------------------------------------------------
    def _per_step(self) -> int:
        return self.world * self.cfg.accumulate

    def _steps_in(self, epoch_batches: Iterable[Any]) -> int | None:
        n = len(epoch_batches) if hasattr(epoch_batches, "__len__") else None
        return None if n is None else n // self._per_step()

    def _step_batches(self, epoch_batches: Iterable[Any], skip: int) -> Iterator[list[Any]]:
        """This rank's batches for each remaining step of the epoch.

        Step ``s`` uses the epoch's batches ``s*P .. s*P + P - 1`` (P = world x accumulate);
        rank ``r`` takes those at ``s*P + m*world + r`` for ``m < accumulate``. A partial
        last group is dropped, on every rank alike.
        """
        W, A, per = self.world, self.cfg.accumulate, self._per_step()
        if hasattr(epoch_batches, "__getitem__") and hasattr(epoch_batches, "__len__"):
            for s in range(skip, len(epoch_batches) // per):
                yield [epoch_batches[s * per + m * W + self.rank] for m in range(A)]
            return
        group: list[Any] = []
        for i, batch in enumerate(epoch_batches):
            s, pos = divmod(i, per)
            if s < skip:
                continue
            if pos % W == self.rank:
                group.append(batch)
            if pos == per - 1:
                yield group
                group = []

    def _train_step(
        self, micro_batches: list[Any], progress: float, warmup: float
    ) -> tuple[float, int] | None:
        """One optimizer step on this rank's ``micro_batches``: ``(mean loss, units)`` over
        all ranks, or None when the step was skipped (see :meth:`_skip`)."""
        cfg, st = self.cfg, self.state
        for group in self.optimizer.param_groups:
            factor = lr_factor(cfg, st["step"], progress, warmup)
            group["lr"] = cfg.lr * factor * st["plateau_scale"]
        self.optimizer.zero_grad(set_to_none=True)
        pooled = self.world > 1 or len(micro_batches) > 1
        loss_sum = torch.zeros((), dtype=torch.float64, device=self.device)
        units = 0
        for i, batch in enumerate(micro_batches):
            last = i == len(micro_batches) - 1
            no_sync = self.world > 1 and not last
            sync = self.train_model.no_sync() if no_sync else contextlib.nullcontext()
            with sync:
                with torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.bf16):
                    loss, n = self.loss_fn(self.train_model, to_device(batch, self.device))
                n = int(n)
                # pooled: backpropagate the summed loss, then divide by the global unit count.
                # A non-finite loss is backpropagated too: under DDP every rank must take part.
                (loss * n if pooled else loss).backward()
            loss_sum += loss.detach().double() * n
            units += n
        grads = [p.grad for p in self.model.parameters() if p.grad is not None]
        norm = torch.nn.utils.get_total_norm(grads)  # before the /N below (finite iff after)
        bad_grad = (~torch.isfinite(norm)).to(loss_sum)
        totals = torch.stack([loss_sum, loss_sum.new_tensor(float(units)), bad_grad])
        # totals (3,): summed loss, units, ranks whose gradient is not finite
        if self.world > 1:
            dist.all_reduce(totals)  # one verdict for all ranks; DDP averaged the gradients
        loss_total, units_total, bad_ranks = totals.tolist()
        units_all = max(int(units_total), 1)
        loss_mean = loss_total / units_all
        if bad_ranks or not math.isfinite(loss_mean):
            self.optimizer.zero_grad(set_to_none=True)
            self._skip(loss_mean, norm.item())
            return None
        st["bad_steps"] = 0
        scale = self.world / units_all if pooled else 1.0
        if pooled:
            for g in grads:
                g.mul_(scale)
        if cfg.grad_clip:
            torch.nn.utils.clip_grads_with_norm_(
                self.model.parameters(), cfg.grad_clip, norm * scale
            )
        self.optimizer.step()
        return loss_mean, units_all

    def _skip(self, loss: float, norm: float) -> None:
        """Count a skipped step; warn, or stop once ``max_bad_steps`` came in a row."""
        st, cfg = self.state, self.cfg
        st["bad_steps"] += 1
        st["skipped_steps"] += 1
        what = f"loss {loss}" if not math.isfinite(loss) else f"gradient norm {norm}"
        where = f"step {st['step'] + 1} (epoch {st['epoch'] + 1}, batch {st['batch_in_epoch'] + 1})"
        if st["bad_steps"] >= cfg.max_bad_steps:
            kept = (
                f"{self.run_dir / 'last'} (step {self.saved_step}) is kept"
                if self.saved_step is not None
                else "no checkpoint was written yet"
            )
            raise AttnkitError(
                f"training stopped at {where}: {st['bad_steps']} steps in a row had a non-finite "
                f"loss or gradient (train.max_bad_steps), the last {what}; {kept}. Lower "
                "train.lr, set train.grad_clip or check the data, then resume"
            )
        if self.is_main:
            log.logger.warning(
                f"non-finite {what} at {where}: step skipped "
                f"({st['bad_steps']} in a row; train.max_bad_steps {cfg.max_bad_steps})"
            )

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
        first = self._steps_in(self.batches(st["epoch"]))
        if self.is_main:
            log.info(self.describe_plan(first))
        while st["epoch"] < self._epochs(first) and not stop:
            epoch_batches = self.batches(st["epoch"])
            steps = self._steps_in(epoch_batches)
            bar = tqdm(
                total=steps,
                initial=st["batch_in_epoch"],
                unit="step",
                leave=False,
                desc=f"epoch {st['epoch'] + 1}/{self._epochs(first)}",
                disable=not (cfg.progress and self.is_main),
            )
            ema = None
            t0 = time.perf_counter() - st["elapsed"]
            units0, t_units = st["units"], time.perf_counter()
            for micro in self._step_batches(epoch_batches, st["batch_in_epoch"]):
                if self._out_of_budget(steps):
                    stop = True
                    break
                rng = self._rng_state()  # as this step starts: what a resumed run restores
                try:
                    done = self._train_step(micro, self._progress(steps), self._warmup(steps))
                except KeyboardInterrupt:
                    self.save_last([rng])  # the last finished step; this rank's generator
                    bar.close()
                    raise
                st["batch_in_epoch"] += 1
                st["elapsed"] = time.perf_counter() - t0
                self._sync_elapsed()
                bar.update(1)
                if done is None:  # skipped: the batches are spent, the step is not taken
                    continue
                loss, n = done
                st["step"] += 1
                st["units"] += n
                self._plan_budget()
                ema = loss if ema is None else 0.98 * ema + 0.02 * loss
                rate = (st["units"] - units0) / max(time.perf_counter() - t_units, 1e-9)
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
                    t0 = time.perf_counter() - st["elapsed"]  # evaluation time is not training
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
            summary = self.state["summary"]
            previous = {k[4:]: v for k, v in summary.items() if k.startswith("dev_")}
            metrics = self._evaluate()
            stop = self._after_eval(metrics)
            if self.after_eval_fn is not None:
                self.after_eval_fn(self.model, metrics, previous)
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
            "train_seconds": round(st["elapsed"], 3),
            "units_per_second": round(st["units"] / max(st["elapsed"], 1e-9), 1),
        }
        if st["planned_steps"]:
            out["planned_steps"] = st["planned_steps"]
        if st["skipped_steps"]:
            out["skipped_steps"] = st["skipped_steps"]
        if st["best"] is not None:
            out[f"best_{self.cfg.metric}"] = st["best"]
        out.update(st["summary"])
        return {k: v for k, v in out.items() if not (isinstance(v, float) and math.isnan(v))}
