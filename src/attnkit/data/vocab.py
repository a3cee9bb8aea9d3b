"""Vocabularies that are dataclasses, saved as the JSON of their fields (never pickled).

Example:
    >>> import tempfile
    >>> from dataclasses import dataclass
    >>> @dataclass
    ... class Tags(JsonFields):
    ...     tags: list[str]
    >>> path = Path(tempfile.mkdtemp()) / "vocab.json"
    >>> Tags.load_or_build(path, reuse=True, build=lambda: Tags(["n", "v"])).tags
    ['n', 'v']
    >>> Tags.load(path) == Tags(["n", "v"])       # built once, saved, read back
    True
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from attnkit.errors import AttnkitError
from attnkit.fileio import atomic_write, read_json

V = TypeVar("V", bound="JsonFields")


class JsonFields:
    """Mixin for a dataclass vocabulary: :meth:`save` / :meth:`load` its fields as JSON."""

    def save(self, path: Path) -> None:
        data = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        atomic_write(path, json.dumps(data, ensure_ascii=False))

    @classmethod
    def load(cls: type[V], path: Path) -> V:
        """Read a vocabulary written by :meth:`save`.

        Raises:
            AttnkitError: the file is missing or corrupt.
        """
        data = read_json(path, "vocabulary")
        try:
            return cls(**data)
        except (TypeError, ValueError) as e:
            raise AttnkitError(f"vocabulary {path} is corrupt: {e}") from None

    @classmethod
    def load_or_build(cls: type[V], path: Path, *, reuse: bool, build: Callable[[], V]) -> V:
        """The vocabulary saved at ``path`` when ``reuse`` and it exists, else ``build()``
        saved there (what a resumed run, or a second torchrun rank, reads back)."""
        if reuse and Path(path).is_file():
            return cls.load(path)
        vocab = build()
        vocab.save(path)
        return vocab


__all__ = ["JsonFields"]
