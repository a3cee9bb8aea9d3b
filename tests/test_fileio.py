"""Atomic writes: all or nothing, ordinary permissions, clear errors on reading."""

import json
import os
import stat

import pytest

from attnkit.errors import AttnkitError
from attnkit.fileio import atomic_write, read_json, write_json


def test_atomic_write_replaces_whole_files_with_ordinary_permissions(tmp_path):
    path = tmp_path / "sub" / "out.json"
    write_json(path, {"a": 1})
    atomic_write(path, "new")
    assert path.read_text() == "new"
    mask = os.umask(0)
    os.umask(mask)
    assert stat.S_IMODE(path.stat().st_mode) == 0o666 & ~mask  # not mkstemp's 0o600
    assert [p.name for p in path.parent.iterdir()] == ["out.json"]  # no temporary left


def test_read_json_names_the_file(tmp_path):
    with pytest.raises(AttnkitError, match="vocabulary missing"):
        read_json(tmp_path / "nope.json", "vocabulary")
    (tmp_path / "bad.json").write_text("{")
    with pytest.raises(AttnkitError, match=r"bad\.json is corrupt"):
        read_json(tmp_path / "bad.json")
    (tmp_path / "ok.json").write_text(json.dumps([1]))
    assert read_json(tmp_path / "ok.json") == [1]
