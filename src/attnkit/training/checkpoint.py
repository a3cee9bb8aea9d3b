"""Checkpoints: safetensors for tensors, JSON for the rest, written atomically.

A checkpoint is a folder holding ``model.safetensors`` and ``meta.json`` (and, for the
``last/`` checkpoint of a run, ``trainer.safetensors`` + ``trainer.json`` with the optimizer,
RNG and position needed to resume exactly). Folders are written beside the target, flushed to
disk and renamed into place, so a crash (or a power cut) never leaves a half-written
checkpoint. Loading never unpickles.

Replacing ``NAME/`` takes two renames: ``NAME`` -> ``.NAME.old``, then the finished temporary
``.NAME.tmp-*`` -> ``NAME``. A process killed in between leaves no ``NAME/`` but a complete
``.NAME.old/``: readers then read that one (:func:`readable`), and the next write puts it back
before anything else and deletes the temporary folders killed writers left. One writer per
checkpoint folder (rank 0 of a run) is assumed.

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

import glob
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
from attnkit.fileio import sync
from attnkit.training.state import flatten, unflatten

MODEL_FILE = "model.safetensors"
META_FILE = "meta.json"
TRAINER_TENSORS = "trainer.safetensors"
TRAINER_JSON = "trainer.json"


def _tensors_for_saving(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    # Tied weights share storage, which safetensors refuses: give each key its own copy.
    return {k: v.detach().cpu().contiguous().clone() for k, v in state.items()}


def _set_aside(dest: Path) -> Path:
    return dest.with_name(f".{dest.name}.old")


def readable(directory: Path) -> Path:
    """The folder holding checkpoint ``directory``'s files: itself, or the complete previous
    version (``.NAME.old``) when a writer was killed between its two renames.

    Example:
        >>> readable(Path("/runs/demo/last"))  # no such folder, nothing set aside
        PosixPath('/runs/demo/last')
    """
    directory = Path(directory)
    old = _set_aside(directory)
    return old if not directory.is_dir() and old.is_dir() else directory


def _settle(dest: Path) -> None:
    """Undo what killed writes of ``dest`` left: the set-aside version goes back in place
    when ``dest`` is missing; leftover temporary and set-aside folders are deleted."""
    old = _set_aside(dest)
    if not dest.exists() and old.is_dir():
        os.replace(old, dest)
    for stale in dest.parent.glob(f".{glob.escape(dest.name)}.tmp-*"):
        shutil.rmtree(stale, ignore_errors=True)
    if old.exists():
        shutil.rmtree(old)


def write_folder_atomically(dest: Path, files: dict[str, Any]) -> None:
    """Write ``files`` (name -> tensor dict or JSON-able object) into ``dest`` atomically.

    Tensor dicts go to safetensors (names ending in ``.safetensors``), the rest to JSON. See
    the module docstring for what a process killed at any moment leaves behind.
    """
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    _settle(dest)
    tmp = Path(tempfile.mkdtemp(prefix=f".{dest.name}.tmp-", dir=dest.parent))
    try:
        for name, content in files.items():
            if name.endswith(".safetensors"):
                save_file(_tensors_for_saving(content), str(tmp / name))
            else:
                (tmp / name).write_text(json.dumps(content, indent=1), encoding="utf-8")
            sync(tmp / name)
        sync(tmp)
        old = _set_aside(dest)
        if dest.exists():
            os.replace(dest, old)
        os.replace(tmp, dest)  # killed just before: no dest, a complete old (see readable)
        sync(dest.parent)  # the renames survive a power cut, and with them complete files
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
    directory = readable(directory)
    if not directory.is_dir():
        raise AttnkitError(f"no checkpoint at {directory}")
    return _read_tensors(directory / MODEL_FILE), _read_json(directory / META_FILE)


def misfit(model: torch.nn.Module, state: dict[str, torch.Tensor]) -> str | None:
    """Why ``state`` does not load into ``model`` (other shapes, missing or extra weights).

    Example:
        >>> small = torch.nn.Linear(2, 2, bias=False).state_dict()
        >>> misfit(torch.nn.Linear(2, 3, bias=False), small)
        'weight is [2, 2] in the checkpoint, [3, 2] in the model'
    """
    own = model.state_dict()
    problems = [
        f"{k} is {list(v.shape)} in the checkpoint, {list(own[k].shape)} in the model"
        for k, v in state.items()
        if k in own and v.shape != own[k].shape
    ]
    problems += [f"{k} is missing from the checkpoint" for k in own if k not in state]
    problems += [f"{k} is not in the model" for k in state if k not in own]
    if not problems:
        return None
    more = f" (and {len(problems) - 3} more)" if len(problems) > 3 else ""
    return "; ".join(problems[:3]) + more


def load_into(
    model: torch.nn.Module, directory: Path, *, model_from: str = "this model"
) -> dict[str, Any]:
    """Load a checkpoint's weights into ``model``; returns its meta.

    Args:
        model: the model to fill.
        directory: the checkpoint folder.
        model_from: what the model was built from, for the message when they do not fit
            (``"the model that RUN/config.yaml describes"``).

    Raises:
        AttnkitError: missing/corrupt files, or weights that do not fit the model.
    """
    state, meta = load_model_state(directory)
    try:
        model.load_state_dict(state)
    except RuntimeError as e:
        reason = misfit(model, state) or e
        raise AttnkitError(f"checkpoint {directory} does not fit {model_from}: {reason}") from None
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


def load_trainer_state(directory: Path) -> dict[str, Any]:
    """The nested trainer state saved by :func:`save_trainer_state`.

    Raises:
        AttnkitError: a trainer file is missing or corrupt (naming it).
    """
    directory = readable(directory)
    where = directory / TRAINER_JSON
    skeleton = _read_json(where)
    tensors = _read_tensors(directory / TRAINER_TENSORS)
    try:
        state = unflatten(tensors, skeleton)
    except KeyError as e:
        raise AttnkitError(f"checkpoint file {where} is corrupt: no tensor {e} beside it") from None
    except (TypeError, ValueError) as e:
        raise AttnkitError(f"checkpoint file {where} is corrupt: {e}") from None
    if not isinstance(state, dict) or not isinstance(state.get("optimizer"), dict):
        raise AttnkitError(f"checkpoint file {where} is corrupt: it holds no optimizer state")
    return state


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
