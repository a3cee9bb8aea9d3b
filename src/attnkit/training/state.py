"""Nested state (optimizer, RNG, counters) saved as safetensors + JSON, never pickle.

Tensors inside nested dicts/lists go to a safetensors file; the structure, with placeholders
where the tensors were, goes to JSON. Loading rebuilds the same nested object.

Example:
    >>> import torch
    >>> tensors, skeleton = flatten({"a": [torch.ones(2), 3], 1: "x"})
    >>> sorted(tensors)
    ['t0']
    >>> unflatten(tensors, skeleton)[1]
    'x'
"""

from __future__ import annotations

from typing import Any

import torch


def flatten(obj: Any) -> tuple[dict[str, torch.Tensor], Any]:
    """Split ``obj`` into its tensors (named t0, t1, ...) and a JSON-able skeleton."""
    tensors: dict[str, torch.Tensor] = {}

    def walk(x: Any) -> Any:
        if isinstance(x, torch.Tensor):
            name = f"t{len(tensors)}"
            tensors[name] = x.detach().cpu().contiguous().clone()
            return {"__tensor__": name}
        if isinstance(x, dict):
            if all(isinstance(k, str) for k in x):
                return {"__dict__": [[k, walk(v)] for k, v in x.items()]}
            return {"__dict__": [[walk(k), walk(v)] for k, v in x.items()]}
        if isinstance(x, tuple):
            return {"__tuple__": [walk(v) for v in x]}
        if isinstance(x, list):
            return [walk(v) for v in x]
        if x is None or isinstance(x, bool | int | float | str):
            return x
        raise TypeError(f"cannot save object of type {type(x).__name__} in a checkpoint")

    return tensors, walk(obj)


def unflatten(tensors: dict[str, torch.Tensor], skeleton: Any) -> Any:
    """Inverse of :func:`flatten`."""

    def walk(x: Any) -> Any:
        if isinstance(x, dict):
            if "__tensor__" in x:
                return tensors[x["__tensor__"]]
            if "__tuple__" in x:
                return tuple(walk(v) for v in x["__tuple__"])
            if "__dict__" in x:
                return {_key(walk(k)): walk(v) for k, v in x["__dict__"]}
        if isinstance(x, list):
            return [walk(v) for v in x]
        return x

    return walk(skeleton)


def _key(k: Any) -> Any:
    return tuple(k) if isinstance(k, list) else k
