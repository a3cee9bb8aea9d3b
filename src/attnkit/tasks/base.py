"""The task contract: what a task supplies so that train, eval, predict, serve and export work.

A task is a subclass of :class:`Task` whose methods plug its data, model and metrics into the
shared spine; it never reimplements the spine. :mod:`attnkit.tasks.runner` trains and evaluates
any task, :mod:`attnkit.tasks.runs` opens any run folder, the CLI and the server call
:meth:`Task.predict`. ``docs/EXTENDING.md`` walks through a real one.

=====================  ==================================================================
member                 what the task gives
=====================  ==================================================================
``name``               the name in ``attnkit train NAME`` and in a run's ``meta.json``
``config_class``       its config dataclass: ``data``, ``model``, ``train`` (a
                       :class:`~attnkit.training.TrainConfig`) and task extras
``default_config``     its YAML in ``configs/``
``unit``               what the loss counts ("tok", "img"), for the progress bar
``prepare``            data preparation: read the corpus, build the vocabulary (written into
                       the run folder), return :class:`Prepared`
``build_model``        the network for a config and the prepared assets
``loss``               ``(cfg, model, batch) -> (mean loss, units)``, via ``model(...)``
``validate``           dev metrics during training (``train.metric`` among them)
``after_eval``         optional: act on each evaluation (end a training phase)
``load_assets``        the assets of a trained run (tokenizers, vocabulary, class names)
``evaluate``           the held-out metrics of an opened run (``attnkit eval``)
``predict``            JSON-able predictions for raw inputs (CLI commands and HTTP API)
``plot``               optional: a heatmap of a prediction's attention (``--plot``)
``export_onnx``        optional, with ``exports_onnx = True``: ONNX (``attnkit export``)
=====================  ==================================================================

Example:
    >>> from attnkit.tasks import get_task
    >>> task = get_task("classify")
    >>> task.name, task.unit, task.default_config
    ('classify', 'img', 'classify_fmnist.yaml')
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import torch

from attnkit.errors import AttnkitError

if TYPE_CHECKING:
    from attnkit.tasks.runs import Run


@dataclass
class Prepared:
    """What :meth:`Task.prepare` hands to the Trainer.

    Attributes:
        assets: what :meth:`Task.build_model` needs besides the config (tokenizers, a
            vocabulary); :meth:`Task.load_assets` rebuilds the same from the run folder.
        meta: JSON-able facts to store in the run's ``meta.json`` (vocabulary sizes, asset
            file names) that :meth:`Task.load_assets` reads back.
        batches: ``epoch -> training batches`` (deterministic per epoch, see the Trainer).
        dev: whatever :meth:`Task.validate` scores (encoded dev examples).
        description: one line for the log ("26,289 training pairs, 400 dev; vocab 4,000").
    """

    assets: Any
    meta: dict[str, Any]
    batches: Callable[[int], Iterable[Any]]
    dev: Any
    description: str = ""


class Task:
    """Base class of the tasks; see the module docstring for the contract."""

    name: ClassVar[str]
    config_class: ClassVar[type]
    default_config: ClassVar[str]
    unit: ClassVar[str] = "tok"
    exports_onnx: ClassVar[bool] = False  # True where export_onnx is implemented

    # ----- training ---------------------------------------------------------------------------
    def prepare(self, cfg: Any, run_dir: Path, *, reuse: bool) -> Prepared:
        """Read the data and build (or, with ``reuse``, reload from ``run_dir``) the assets."""
        raise NotImplementedError

    def build_model(self, cfg: Any, assets: Any) -> torch.nn.Module:
        """The untrained network of ``cfg.model`` for these assets."""
        raise NotImplementedError

    def loss(self, cfg: Any, model: torch.nn.Module, batch: Any) -> tuple[torch.Tensor, int]:
        """Mean training loss of one batch and its number of units, through ``model(...)``."""
        raise NotImplementedError

    def validate(self, cfg: Any, model: torch.nn.Module, prepared: Prepared) -> dict[str, float]:
        """Dev metrics of ``model`` (eval mode, no grad) during training."""
        raise NotImplementedError

    def after_eval(
        self,
        cfg: Any,
        model: torch.nn.Module,
        metrics: dict[str, float],
        previous: dict[str, float],
    ) -> None:
        """Optional: called after each evaluation with its dev metrics and the previous
        evaluation's (empty at first), to change how ``model`` trains from then on; what it
        changes must live in the model's buffers (see the Trainer's ``after_eval``)."""

    # ----- runs -------------------------------------------------------------------------------
    def load_assets(self, run_dir: Path, meta: dict[str, Any]) -> Any:
        """The assets a trained run was built with, read from its folder."""
        raise NotImplementedError

    def evaluate(self, run: Run, split: str) -> dict[str, Any]:
        """Held-out metrics of an opened run on ``split`` (may write files into the run)."""
        raise NotImplementedError

    # ----- use --------------------------------------------------------------------------------
    def predict(self, run: Run, inputs: Sequence[Any], **options: Any) -> list[dict[str, Any]]:
        """One JSON-able result per input (what the CLI prints and the HTTP API returns)."""
        raise NotImplementedError

    def plot(self, result: dict[str, Any], path: Path) -> None:
        """Optional: draw the attention of a ``predict(..., attention=True)`` result as a PNG."""
        raise AttnkitError(f"{self.name!r} results have no attention to draw")

    def export_onnx(self, run: Run, out: Path) -> dict[str, Any]:
        """Optional: write the model as ONNX and check it; tasks without it refuse."""
        raise AttnkitError(f"ONNX export is not available for {self.name!r} models")

    def __repr__(self) -> str:
        return f"<task {self.name}>"


__all__ = ["Prepared", "Task"]
