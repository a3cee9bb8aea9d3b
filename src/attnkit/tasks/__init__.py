"""Task modules: each wires data + model + Trainer + decoding + metrics for one job.

A task module exposes ``Config`` (dataclass), ``DEFAULT_CONFIG`` (a file in ``configs/``),
``train(cfg, run_dir, *, resume=False)``, ``evaluate(run_dir, *, split="test")`` and
``add_commands(app)`` for its prediction commands.

Example:
    >>> sorted(TASKS)
    ['classify', 'tag', 'translate']
"""

from __future__ import annotations

import importlib
import importlib.util
import json
from pathlib import Path
from types import ModuleType

from attnkit.errors import AttnkitError

TASKS: dict[str, str] = {
    "translate": "attnkit.tasks.translate",
    "tag": "attnkit.tasks.tag",
    "classify": "attnkit.tasks.classify",
}


def available_tasks() -> list[str]:
    """Names of the task modules present in this installation."""
    return [name for name, mod in TASKS.items() if importlib.util.find_spec(mod) is not None]


def get_task(name: str) -> ModuleType:
    """Import the task module ``name``.

    Raises:
        AttnkitError: unknown task name (the valid ones are listed).
    """
    if name not in TASKS or importlib.util.find_spec(TASKS[name]) is None:
        raise AttnkitError(f"unknown task {name!r}; choose one of: {', '.join(available_tasks())}")
    return importlib.import_module(TASKS[name])


def task_of_run(run_dir: str | Path) -> str:
    """The task name a run folder holds, read from its ``meta.json``.

    Raises:
        AttnkitError: no run there (no meta.json), or its meta.json is corrupt.
    """
    meta_path = Path(run_dir) / "meta.json"
    if not meta_path.is_file():
        raise AttnkitError(f"{run_dir} is not a run folder (no meta.json); train one first")
    try:
        return str(json.loads(meta_path.read_text(encoding="utf-8"))["task"])
    except (json.JSONDecodeError, KeyError, TypeError):
        raise AttnkitError(f"{meta_path} is corrupt") from None
