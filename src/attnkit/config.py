"""Typed configs: nested dataclasses loaded from YAML, overridable with ``key=value``.

Unknown keys are errors that list the valid ones; values are parsed as YAML
(``train.lr=3e-4``, ``model.rnn=lstm``, ``train.max_steps=null``).

Example:
    >>> from attnkit.tasks.translate import Config
    >>> cfg = load_config(Config, None, ["train.lr=3e-4", "model.rnn=lstm"])
    >>> cfg.train.lr, cfg.model.rnn
    (0.0003, 'lstm')
    >>> load_config(Config, None, ["model.rnn_type=lstm"])  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    attnkit.errors.AttnkitError: unknown config key 'model.rnn_type'...
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TypeVar

import yaml

from attnkit.errors import AttnkitError

T = TypeVar("T")


def _field_types(cls: type) -> dict[str, Any]:
    hints = typing.get_type_hints(cls)
    return {f.name: hints[f.name] for f in dataclasses.fields(cls)}


def _nested_dataclass(tp: Any) -> type | None:
    """The dataclass inside ``tp`` (``Foo`` or ``Foo | None``), else None."""
    if dataclasses.is_dataclass(tp):
        return tp
    if typing.get_origin(tp) in (typing.Union, types.UnionType):
        for arg in typing.get_args(tp):
            if dataclasses.is_dataclass(arg):
                return arg
    return None


def _coerce(value: Any, tp: Any, where: str) -> Any:
    """Check/convert a YAML scalar against a field type (int -> float is allowed)."""
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        args = typing.get_args(tp)
        if value is None and type(None) in args:
            return None
        errors = []
        for arg in args:
            if arg is type(None):
                continue
            try:
                return _coerce(value, arg, where)
            except AttnkitError as e:
                errors.append(str(e))
        raise AttnkitError(errors[0] if errors else f"{where}: bad value {value!r}")
    if origin is typing.Literal:
        choices = typing.get_args(tp)
        if value not in choices:
            raise AttnkitError(f"{where}: {value!r} is not one of {', '.join(map(repr, choices))}")
        return value
    if origin in (list, tuple, Sequence):
        if not isinstance(value, list | tuple):
            raise AttnkitError(f"{where}: expected a list, got {value!r}")
        (item_tp, *_) = typing.get_args(tp) or (Any,)
        return [_coerce(v, item_tp, f"{where}[{i}]") for i, v in enumerate(value)]
    if tp is Any:
        return value
    if tp is float and isinstance(value, int | float) and not isinstance(value, bool):
        try:
            return float(value)
        except OverflowError:
            raise AttnkitError(f"{where}: an integer too large for a float") from None
    if tp is float and isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            pass
    if tp is int and isinstance(value, bool):
        raise AttnkitError(f"{where}: expected int, got {value!r}")
    if isinstance(tp, type) and isinstance(value, tp):
        return value
    tname = getattr(tp, "__name__", str(tp))
    raise AttnkitError(f"{where}: expected {tname}, got {value!r}")


def _defaults(cls: type[T]) -> T | None:
    """``cls()`` when every field has a default, else None."""
    try:
        return cls()
    except TypeError:
        return None


def from_dict(cls: type[T], data: dict[str, Any], where: str = "", base: T | None = None) -> T:
    """Build dataclass ``cls`` from a mapping, recursively; unknown keys raise AttnkitError.

    Keys missing from ``data`` keep their value in ``base`` (default: ``cls()``): a nested
    section given in part keeps the *task's* defaults for the rest, not those of the
    section's class (``train: {epochs: 2}`` keeps translate's ``train.metric: bleu``).
    """
    if not isinstance(data, dict):
        raise AttnkitError(f"{where or 'config'}: expected a mapping, got {data!r}")
    if base is None:
        base = _defaults(cls)
    types_ = _field_types(cls)
    kwargs: dict[str, Any] = {}
    for key, value in data.items():
        path = f"{where}.{key}" if where else str(key)
        if key not in types_:
            raise AttnkitError(
                f"unknown config key {path!r}; valid keys here: {', '.join(sorted(types_))}"
            )
        sub = _nested_dataclass(types_[key])
        if sub is not None and isinstance(value, dict):
            inner = getattr(base, key, None) if base is not None else None
            kwargs[key] = from_dict(sub, value, path, inner if isinstance(inner, sub) else None)
        else:
            kwargs[key] = _coerce(value, types_[key], path)
    try:
        return dataclasses.replace(base, **kwargs) if base is not None else cls(**kwargs)
    except (TypeError, ValueError) as e:
        raise AttnkitError(f"{where or 'config'}: {e}") from None


def to_dict(cfg: Any) -> dict[str, Any]:
    """The config as plain dicts and lists (for YAML/JSON)."""
    return dataclasses.asdict(cfg)


def _apply_override(data: dict[str, Any], cls: type, item: str) -> None:
    if "=" not in item:
        raise AttnkitError(f"override {item!r} must look like key=value (e.g. train.lr=3e-4)")
    key, raw = item.split("=", 1)
    parts = key.strip().split(".")
    node, node_cls = data, cls
    for i, part in enumerate(parts):
        types_ = _field_types(node_cls)
        if part not in types_:
            where = ".".join(parts[:i]) or "top level"
            raise AttnkitError(
                f"unknown config key {key!r} ({where}); valid keys: {', '.join(sorted(types_))}"
            )
        if i == len(parts) - 1:
            node[part] = _parse_yaml(raw, f"override {item!r}") if raw.strip() else ""
        else:
            section = ".".join(parts[: i + 1])
            sub = _nested_dataclass(types_[part])
            if sub is None:
                raise AttnkitError(f"config key {section!r} has no sub-keys")
            if node.get(part) is None:  # absent, or `train:` left empty in the file
                node[part] = {}
            if not isinstance(node[part], dict):
                raise AttnkitError(f"config key {section!r} is {node[part]!r:.40}, not a section")
            node = node[part]
            node_cls = sub


def _parse_yaml(text: str, where: str) -> Any:
    """``text`` as plain YAML data; a syntax error is an AttnkitError naming ``where``."""
    try:
        return yaml.safe_load(text)
    except (yaml.YAMLError, ValueError, RecursionError) as e:  # an int of 4,300+ digits, [[[[...
        raise AttnkitError(f"invalid YAML in {where}: {e}") from None


def load_config(cls: type[T], path: str | Path | None, overrides: Sequence[str] = ()) -> T:
    """Load ``cls`` from a YAML file (or its defaults when ``path`` is None) plus overrides.

    Args:
        cls: the config dataclass.
        path: YAML file; None uses the dataclass defaults.
        overrides: ``"a.b=value"`` strings applied after the file.

    Raises:
        AttnkitError: missing file, invalid YAML, unknown key or a value of the wrong type.
    """
    data: dict[str, Any] = {}
    if path is not None:
        p = Path(path)
        if not p.is_file():
            raise AttnkitError(f"config file not found: {p}")
        try:
            text = p.read_text(encoding="utf-8")
        except UnicodeDecodeError as e:
            raise AttnkitError(f"config file {p} is not UTF-8 text ({e.reason})") from None
        data = _parse_yaml(text, str(p))
        if data is None:  # an empty file
            data = {}
        if not isinstance(data, dict):
            raise AttnkitError(f"config file {p}: expected a mapping of keys, got {data!r:.40}")
    for item in overrides:
        _apply_override(data, cls, item)
    return from_dict(cls, data)


def save_config(cfg: Any, path: str | Path) -> None:
    """Write the resolved config as YAML."""
    Path(path).write_text(yaml.safe_dump(to_dict(cfg), sort_keys=False), encoding="utf-8")
