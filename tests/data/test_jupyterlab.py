"""JupyterLab en->fr corpus: gettext catalogs written here, read back, split, written."""

from __future__ import annotations

import struct
import zipfile
from pathlib import Path

import pytest

from attnkit.data import jupyterlab
from attnkit.errors import AttnkitError

HEADER = "Content-Type: text/plain; charset=UTF-8\nPlural-Forms: nplurals=2; plural=(n > 1);\n"


def write_mo(path: Path, entries: list[tuple[str, str]]) -> None:
    """A minimal GNU .mo writer: (raw msgid, raw msgstr), sorted by msgid as msgfmt does.

    A raw msgid is ``"ctx\\x04id"`` with a context, ``"one\\x00many"`` for a plural;
    a plural's msgstr is its forms joined by ``"\\x00"``.
    """
    entries = sorted([("", HEADER), *entries])
    ids = [k.encode() for k, _ in entries]
    strs = [v.encode() for _, v in entries]
    n = len(entries)
    orig_table, trans_table = 7 * 4, 7 * 4 + n * 8
    offset = trans_table + n * 8
    table_o, table_t, blob = b"", b"", b""
    for data_list, which in ((ids, "o"), (strs, "t")):
        for data in data_list:
            entry = struct.pack("<II", len(data), offset + len(blob))
            blob += data + b"\x00"
            if which == "o":
                table_o += entry
            else:
                table_t += entry
    header = struct.pack("<7I", 0x950412DE, 0, n, orig_table, trans_table, 0, 0)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(header + table_o + table_t + blob)


LAB = [
    ("Open %1", "Ouvrir %1"),
    ("settings\x04Always", "Toujours"),  # a message context
    ("%1 Item\x00%1 Items", "%1 élément\x00%1 éléments"),  # a plural
    ("Untranslated", ""),  # no translation yet
    ("Line one\nline two", "Ligne un\nligne deux"),
    ("Save", "Enregistrer"),
]
GIT = [
    ("Save", "Sauvegarder"),  # also in another catalog: the first file's wins
    ("Clone", "Cloner"),
]


def test_read_mo(tmp_path: Path) -> None:
    write_mo(tmp_path / "jupyterlab.mo", LAB)
    assert sorted(jupyterlab.read_mo(tmp_path / "jupyterlab.mo")) == sorted(
        [
            ("Open %1", "Ouvrir %1"),
            ("Always", "Toujours"),
            ("%1 Item", "%1 élément"),
            ("Line one line two", "Ligne un ligne deux"),
            ("Save", "Enregistrer"),
        ]
    )


def test_read_mo_rejects_other_files(tmp_path: Path) -> None:
    (tmp_path / "bad.mo").write_bytes(b"\x00" * 40)
    with pytest.raises(AttnkitError, match="not a gettext"):
        list(jupyterlab.read_mo(tmp_path / "bad.mo"))
    with pytest.raises(AttnkitError, match="cannot read"):
        list(jupyterlab.read_mo(tmp_path / "missing.mo"))


def test_build_deduplicates_and_splits(tmp_path: Path) -> None:
    write_mo(tmp_path / "mo/jupyterlab_git.mo", GIT)
    write_mo(tmp_path / "mo/jupyterlab.mo", LAB)
    many = [(f"Command number {i}", f"Commande numéro {i}") for i in range(300)]
    write_mo(tmp_path / "mo/notebook.mo", many)
    files = sorted((tmp_path / "mo").glob("*.mo"), reverse=True)  # order must not matter
    counts = jupyterlab.build(files, tmp_path / "out")
    got: dict[str, str] = {}
    where: dict[str, str] = {}
    for split in ("train", "dev", "test"):
        pairs = jupyterlab.load_pairs(tmp_path / "out", split)
        assert len(pairs) == counts[f"{split}_pairs"]
        for en, fr in pairs:
            assert en not in where, "a string in two splits"
            where[en], got[en] = split, fr
    assert got["Save"] == "Enregistrer"  # jupyterlab.mo sorts before jupyterlab_git.mo
    assert got["Clone"] == "Cloner" and got["Always"] == "Toujours"
    assert "Untranslated" not in got
    assert counts["pairs"] == len(got) == 6 + 300
    assert 0 < counts["test_pairs"] < 40 and 0 < counts["dev_pairs"] < 40
    # deterministic: the same files give the same files
    jupyterlab.build(files[::-1], tmp_path / "again")
    for name in ("train.en", "dev.fr", "test.en"):
        assert (tmp_path / "out" / name).read_bytes() == (tmp_path / "again" / name).read_bytes()


def test_fetch_end_to_end_without_network(tmp_path: Path, monkeypatch) -> None:
    import attnkit.data.fetch

    wheel_dir = tmp_path / "wheel"
    write_mo(wheel_dir / "pkg/locale/fr_FR/LC_MESSAGES/jupyterlab.mo", LAB)
    wheel = tmp_path / "pack.whl"
    with zipfile.ZipFile(wheel, "w") as z:
        for f in wheel_dir.rglob("*"):
            z.write(f, f.relative_to(wheel_dir))

    def fake_pip_download_extract(requirement: str, dest: Path) -> Path:
        assert requirement == "jupyterlab-language-pack-fr-FR"
        with zipfile.ZipFile(wheel) as z:
            z.extractall(dest)
        return dest

    monkeypatch.setattr(attnkit.data.fetch, "pip_download_extract", fake_pip_download_extract)
    jupyterlab.fetch(tmp_path / "out")
    pairs = [
        p for s in ("train", "dev", "test") for p in jupyterlab.load_pairs(tmp_path / "out", s)
    ]
    assert len(pairs) == 5
    assert "pairs: 5" in (tmp_path / "out/README").read_text()
