"""Files written all at once and JSON read with a clear error: the two I/O habits of attnkit.

A file that a crash could leave half-written (a checkpoint, a vocabulary, an exported model,
a benchmark result) is written to a temporary file beside it and renamed into place, so a
reader sees either the old file or the new one, never a mix.

Example:
    >>> import tempfile
    >>> path = Path(tempfile.mkdtemp()) / "result.json"
    >>> write_json(path, {"bleu": 36.9})
    >>> read_json(path, "benchmark result")["bleu"]
    36.9
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

from attnkit.errors import AttnkitError


def atomic_write(path: str | Path, data: bytes | str) -> None:
    """Write ``data`` (bytes, or text as UTF-8) to ``path`` through a temporary file + rename,
    flushed to disk before the rename and the rename flushed after (:func:`sync`)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = data.encode("utf-8") if isinstance(data, str) else data
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(payload)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes it owner-only; files are ordinary
        os.replace(tmp, path)
        sync(path.parent)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def sync(path: str | Path) -> None:
    """Flush a file's data, or a folder's entries (the names a rename changed), to disk.

    A rename is atomic but not durable by itself: after a power cut the new name can point
    at data never written. Where the system cannot sync a folder it is skipped.

    Example:
        >>> import tempfile
        >>> sync(tempfile.gettempdir())
    """
    flags = os.O_RDONLY | (os.O_DIRECTORY if Path(path).is_dir() else 0)
    fd = os.open(path, flags)
    try:
        os.fsync(fd)
    except OSError:  # some file systems refuse fsync on a folder: nothing more to do there
        pass
    finally:
        os.close(fd)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_json(path: str | Path, obj: Any) -> None:
    """Write ``obj`` as indented UTF-8 JSON, atomically (floats that numpy made are fine)."""
    atomic_write(path, json.dumps(obj, indent=1, ensure_ascii=False, default=float) + "\n")


def read_json(path: str | Path, what: str = "file") -> Any:
    """Parse the JSON file ``path``.

    Args:
        path: the file.
        what: what the file is, for the message (``"run metadata"``, ``"vocabulary"``).

    Raises:
        AttnkitError: the file is missing, unreadable or not valid JSON (naming the file).
    """
    path = Path(path)
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise AttnkitError(f"{what} missing: {path}") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise AttnkitError(f"{what} {path} is corrupt: {e}") from None


__all__ = ["atomic_write", "read_json", "sync", "write_json"]
