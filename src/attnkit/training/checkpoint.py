"""Checkpoints: safetensors for tensors, JSON for the rest, written atomically.

A checkpoint is a folder holding ``model.safetensors`` and ``meta.json`` (and, for the
``last/`` checkpoint of a run, ``trainer.safetensors`` + ``trainer.json`` with the optimizer,
RNG and position needed to resume exactly). Folders are written beside the target and renamed
into place, so a crash never leaves a half-written checkpoint. Loading never unpickles.

Example:
    >>> import tempfile, torch
    >>> from pathlib import Path
    >>> d = Path(tempfile.mkdtemp()) / "ckpt"
    >>> save_model(d, torch.nn.Linear(2, 2), {"task": "demo"})
    >>> state, meta = load_model_state(d)
    >>> sorted(state), meta["task"]
    (['bias', 'weight'], 'demo')
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from attnkit.errors import AttnkitError
from attnkit.training.state import flatten, unflatten

MODEL_FILE = "model.safetensors"
META_FILE = "meta.json"
TRAINER_TENSORS = "trainer.safetensors"
TRAINER_JSON = "trainer.json"


def _tensors_for_saving(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    # Tied weights share storage, which safetensors refuses: give each key its own copy.
    return {k: v.detach().cpu().contiguous().clone() for k, v in state.items()}


def write_folder_atomically(dest: Path, files: dict[str, Any]) -> None:
    """Write ``files`` (name -> tensor dict or JSON-able object) into ``dest`` atomically.

    Tensor dicts go to safetensors (names ending in ``.safetensors``), the rest to JSON.
    """
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{dest.name}.tmp-", dir=dest.parent))
    try:
        for name, content in files.items():
            if name.endswith(".safetensors"):
                save_file(_tensors_for_saving(content), str(tmp / name))
            else:
                (tmp / name).write_text(json.dumps(content, indent=1), encoding="utf-8")
        old = dest.with_name(f".{dest.name}.old")
        if old.exists():
            shutil.rmtree(old)
        if dest.exists():
            os.replace(dest, old)
        os.replace(tmp, dest)
        if old.exists():
            shutil.rmtree(old)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def save_model(directory: Path, model: torch.nn.Module, meta: dict[str, Any]) -> None:
    """Save a model's weights and a JSON ``meta`` into ``directory`` (atomically)."""
    write_folder_atomically(Path(directory), {MODEL_FILE: model.state_dict(), META_FILE: meta})


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise AttnkitError(f"checkpoint file missing: {path}") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise AttnkitError(f"checkpoint file {path} is corrupt: {e}") from None


def _read_tensors(path: Path) -> dict[str, torch.Tensor]:
    if not path.is_file():
        raise AttnkitError(f"checkpoint file missing: {path}")
    try:
        return load_file(str(path))
    except (SafetensorError, OSError, ValueError) as e:
        raise AttnkitError(f"checkpoint file {path} is corrupt: {e}") from None


def load_model_state(directory: Path) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Read ``(state_dict, meta)`` from a checkpoint folder.

    Raises:
        AttnkitError: the folder or a file is missing or corrupt.
    """
    directory = Path(directory)
    if not directory.is_dir():
        raise AttnkitError(f"no checkpoint at {directory}")
    return _read_tensors(directory / MODEL_FILE), _read_json(directory / META_FILE)


def load_into(model: torch.nn.Module, directory: Path) -> dict[str, Any]:
    """Load a checkpoint's weights into ``model``; returns its meta.

    Raises:
        AttnkitError: missing/corrupt files, or weights that do not fit the model.
    """
    state, meta = load_model_state(directory)
    try:
        model.load_state_dict(state)
    except RuntimeError as e:
        raise AttnkitError(f"checkpoint {directory} does not fit this model: {e}") from None
    return meta


def save_trainer_state(directory: Path, model: torch.nn.Module, meta: dict, state: Any) -> None:
    """Save model + meta + the nested trainer ``state`` (optimizer, RNG, counters) atomically."""
    tensors, skeleton = flatten(state)
    write_folder_atomically(
        Path(directory),
        {
            MODEL_FILE: model.state_dict(),
            META_FILE: meta,
            TRAINER_TENSORS: tensors,
            TRAINER_JSON: skeleton,
        },
    )


def load_trainer_state(directory: Path) -> Any:
    """The nested trainer state saved by :func:`save_trainer_state`."""
    directory = Path(directory)
    return unflatten(
        _read_tensors(directory / TRAINER_TENSORS), _read_json(directory / TRAINER_JSON)
    )


def average_states(directories: Sequence[Path]) -> dict[str, torch.Tensor]:
    """The element-wise mean of the floating-point weights of several checkpoints.

    Non-float tensors (counters, masks) are taken from the last checkpoint.
    """
    if not directories:
        raise AttnkitError("no checkpoints to average")
    states = [load_model_state(d)[0] for d in directories]
    out = {}
    for key, last in states[-1].items():
        if last.is_floating_point():
            out[key] = torch.stack([s[key].float() for s in states]).mean(0).to(last.dtype)
        else:
            out[key] = last
    return out
