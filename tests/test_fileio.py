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


def test_writes_reach_the_disk_before_the_rename(tmp_path, monkeypatch):
    """The data is fsynced before the rename makes it visible, and the folder after it (a
    rename alone can point at unwritten data after a power cut): for a file and for a
    checkpoint folder."""
    import torch

    from attnkit.training.checkpoint import save_model

    events = []
    real_fsync, real_replace = os.fsync, os.replace

    def fsync(fd):
        events.append(("fsync", os.path.basename(os.readlink(f"/proc/self/fd/{fd}"))))
        return real_fsync(fd)

    def replace(src, dst):
        events.append(("replace", os.path.basename(dst)))
        return real_replace(src, dst)

    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(os, "replace", replace)
    atomic_write(tmp_path / "a.json", "{}")
    assert [e[0] for e in events] == ["fsync", "replace", "fsync"]
    assert events[0][1].startswith(".a.json.") and events[2][1] == tmp_path.name

    events.clear()
    save_model(tmp_path / "ckpt", torch.nn.Linear(2, 2), {"task": "x"})
    kinds = [e[0] for e in events]
    assert kinds.index("replace") > 2  # model, meta and the folder synced before the rename
    assert events[-1] == ("fsync", tmp_path.name)  # and the parent after it
