"""Opening a run folder: its meta, its config, which checkpoint, the model. One way, used by all.

``attnkit eval``, the prediction commands, ``attnkit serve``, ``attnkit export`` and the
benchmarks all open runs with :func:`open_run`. A run folder, as ``attnkit train`` writes it::

    RUN/
      meta.json        task name, parameter count and the task's asset facts (vocab sizes...)
      config.yaml      the resolved config the run was trained with
      best/            checkpoint with the best dev metric  (model.safetensors + meta.json)
      last/            checkpoint to resume from (+ optimizer, schedule and data position)
      ...              the task's assets: tokenizers, vocabulary

Which checkpoint: ``best/`` when it exists, else ``last/`` (a run stopped before its first
evaluation); ``checkpoint="last"`` asks for the other one, and a path to a checkpoint folder
(``RUN/best``) opens that one.

Example (needs a trained run, so not a doctest)::

    run = open_run("~/.cache/attnkit/runs/demo")
    run.task.name, run.checkpoint.name, type(run.model).__name__   # 'translate', 'best', 'Seq2Seq'
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from attnkit.errors import AttnkitError
from attnkit.fileio import read_json
from attnkit.tasks.base import Task
from attnkit.training.checkpoint import MODEL_FILE, load_into, readable
from attnkit.training.distributed import DistEnv, pick_device

META_FILE = "meta.json"
CONFIG_FILE = "config.yaml"
CHECKPOINTS = ("best", "last")


@dataclass
class Run:
    """A trained run, opened: the model is loaded, in eval mode, on ``device``."""

    path: Path
    task: Task
    meta: dict[str, Any]
    config: Any
    checkpoint: Path
    model: torch.nn.Module
    assets: Any
    device: torch.device

    def require(self, key: str) -> Any:
        """``meta[key]``, or a clear error naming the file and the key."""
        return meta_value(self.meta, key, self.path / META_FILE)

    @property
    def parameters(self) -> int:
        return sum(p.numel() for p in self.model.parameters())


def meta_value(meta: dict[str, Any], key: str, where: Path) -> Any:
    """``meta[key]`` or AttnkitError("... lacks 'key' ...")."""
    if key not in meta:
        raise AttnkitError(
            f"{where} lacks {key!r}: the run is incomplete or was written by another version "
            "of attnkit; train it again"
        )
    return meta[key]


MOVED_KEYS = {("data", "threads"): "threads", ("threads",): "threads", ("device",): "device"}
"""Keys of configs saved before attnkit 0.2, and their place in ``train`` now."""


def upgrade_config(raw: dict[str, Any]) -> dict[str, Any]:
    """A resolved config as an older attnkit saved it, with moved keys put in their place.

    Example:
        >>> upgrade_config({"data": {"threads": 2}, "device": "cpu", "train": {"lr": 0.1}})
        {'data': {}, 'train': {'lr': 0.1, 'threads': 2, 'device': 'cpu'}}
    """
    raw = {k: dict(v) if isinstance(v, dict) else v for k, v in raw.items()}
    for old, new in MOVED_KEYS.items():
        parent = raw if len(old) == 1 else raw.get(old[0])
        if isinstance(parent, dict) and old[-1] in parent:
            value = parent.pop(old[-1])
            if new == "threads" and value == 0:
                value = None  # 0 meant torch's default
            raw.setdefault("train", {}).setdefault(new, value)
    return raw


def load_run_config(task: Task, path: Path) -> Any:
    """The resolved config a run saved (``config.yaml``), as the task's config dataclass."""
    import yaml

    from attnkit.config import from_dict

    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as e:
        raise AttnkitError(f"{path} is corrupt: {e}") from None
    if not isinstance(raw, dict):
        raise AttnkitError(f"{path} is corrupt: expected a mapping")
    try:
        return from_dict(task.config_class, upgrade_config(raw))
    except AttnkitError as e:
        raise AttnkitError(f"{path}: {e}") from None


def run_folder(path: str | Path) -> Path:
    """The run folder of ``path``: itself, or its parent when ``path`` is ``RUN/best``."""
    path = Path(path).expanduser()
    if (path / MODEL_FILE).is_file() and (path.parent / META_FILE).is_file():
        return path.parent
    return path


def read_meta(path: str | Path) -> dict[str, Any]:
    """The ``meta.json`` of a run (folder or checkpoint path), checked to name a task.

    Raises:
        AttnkitError: no run there, or a corrupt / incomplete meta.json.
    """
    run_dir = run_folder(path)
    meta_path = run_dir / META_FILE
    if not meta_path.is_file():
        raise AttnkitError(f"{run_dir} is not a run folder (no {META_FILE}); train one first")
    meta = read_json(meta_path, "run metadata")
    if not isinstance(meta, dict):
        raise AttnkitError(f"{meta_path} is corrupt: expected a JSON object")
    if not isinstance(meta_value(meta, "task", meta_path), str):
        raise AttnkitError(f"{meta_path} is corrupt: 'task' must be a task name")
    return meta


def task_of_run(path: str | Path) -> str:
    """The task name a run holds."""
    return read_meta(path)["task"]


def find_checkpoint(path: str | Path, which: str | None = None) -> Path:
    """The checkpoint folder to load (see the module docstring for the rule).

    Raises:
        AttnkitError: an unknown ``which``, or no such checkpoint.
    """
    path = Path(path).expanduser()
    run_dir = run_folder(path)
    if which is None and run_dir != path:
        return path  # a checkpoint folder was named
    if which is not None and which not in CHECKPOINTS:
        raise AttnkitError(f"checkpoint must be one of {', '.join(CHECKPOINTS)}, got {which!r}")
    for name in (which,) if which else CHECKPOINTS:
        if (readable(run_dir / name) / MODEL_FILE).is_file():
            return run_dir / name
    wanted = f"{which}/" if which else "best/ or last/"
    raise AttnkitError(f"{run_dir} has no trained model yet (no {wanted} checkpoint)")


def open_run(
    path: str | Path,
    *,
    task: str | None = None,
    checkpoint: str | None = None,
    device: str = "auto",
) -> Run:
    """Open a trained run: meta, config, checkpoint, assets and the model, ready to predict.

    Args:
        path: a run folder, or one of its checkpoint folders.
        task: the task the caller needs (another task's run is a clear error).
        checkpoint: ``"best"`` or ``"last"``; default: best, else last.
        device: ``"auto"`` (a GPU when there is one), ``"cpu"`` or ``"cuda"``.

    Raises:
        AttnkitError: no run there, a run of another task, missing / corrupt files, a
            checkpoint that does not fit its config.
    """
    from attnkit.tasks import get_task

    meta = read_meta(path)
    run_dir = run_folder(path)
    if task is not None and meta["task"] != task:
        raise AttnkitError(f"{run_dir} holds a {meta['task']!r} model, not {task!r}")
    task_obj = get_task(meta["task"])
    config_path = run_dir / CONFIG_FILE
    if not config_path.is_file():
        raise AttnkitError(f"{config_path} is missing: the run's config is needed to rebuild it")
    cfg = load_run_config(task_obj, config_path)
    ckpt = find_checkpoint(path, checkpoint)
    assets = task_obj.load_assets(run_dir, meta)
    model = task_obj.build_model(cfg, assets)
    load_into(model, ckpt, model_from=f"the model that {config_path} describes")
    target = pick_device(device, DistEnv())
    model.to(target).eval()
    return Run(run_dir, task_obj, meta, cfg, ckpt, model, assets, target)


__all__ = [
    "CONFIG_FILE",
    "META_FILE",
    "Run",
    "find_checkpoint",
    "meta_value",
    "open_run",
    "read_meta",
    "run_folder",
    "task_of_run",
]
