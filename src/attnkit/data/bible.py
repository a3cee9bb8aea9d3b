"""Spanish -> English Bible: Reina-Valera 1909 and the World English Bible, verse-aligned.

Source: the Debian packages ``sword-text-sparv`` (module ``spaRV1909eb``,
versification KJV) and ``sword-text-web`` (module ``engWEB2015eb``, versification
NRSVA, with the deuterocanon). Both are public domain. They are read with
:mod:`attnkit.data.sword` and aligned by verse key (``"Gen.1.1"``).

Cleaning, in this order (every rule deterministic, counts go to ``README``):

0. Undo the printed drop capitals of the Reina-Valera: the first words of each
   chapter are in capitals (``"EN el principio"``, ``"Y DESPUÉS movió"``). Each word
   of that leading run takes the casing it most often has elsewhere in the text
   (``"después"``, ``"Samuel"``; a word never seen otherwise is lower-cased), and the
   verse starts with a capital (:func:`restore_drop_caps`).
1. Keep keys present and non-empty in both modules (the deuterocanon and verses one
   module leaves out, such as Luke 17:36 in the WEB, drop out here).
2. Drop whole chapters whose verses are shifted between the two modules. The Spanish
   source numbers some chapters the Hebrew way (Num 13, 1 Sam 24, Job 39-40, Hos 12,
   Jonah 2, ...), so verse ``n`` of one side holds verse ``n + 1`` of the other. A
   Spanish verse is about as long as its English one (the log length ratio varies
   little around its median), so a chapter whose mean ``|log(len_es / len_en) - median|``
   (each verse's term capped at ``log(MAX_LENGTH_FACTOR)``) exceeds ``SHIFT_THRESHOLD``
   is taken as shifted. On these modules the shifted chapters score 0.25-0.53 and every
   aligned one at most 0.20 (measured when this was written; the README of a fetched
   corpus lists the chapters dropped).
3. Drop single pairs whose length ratio is off the median by more than a factor
   ``MAX_LENGTH_FACTOR`` (a verse merged with its neighbours on one side).

Split: by chapter, from a hash of the chapter key (:func:`attnkit.data.text.hash_split`
with salt ``"bible-es-en"``): about 3 % of chapters go to dev and 5 % to test. A whole
chapter lands in one split, so neighbouring verses (which share names and phrasing)
never straddle train and test, and the split does not depend on the order or the
cleaning of other chapters.

Files written by :func:`fetch`: ``{train,dev,test}.{es,en}`` (one verse a line),
``keys.{train,dev,test}`` (the verse key of each line) and ``README``.

Example (fetches the corpus, so not a doctest)::

    pairs = load_pairs(ensure("bible-es-en"), "dev")
    pairs[0]  # ('EN el principio crió Dios los cielos y la tierra.', 'In the beginning, ...')
"""

from __future__ import annotations

import math
import re
import statistics
import tempfile
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from attnkit.data.sword import locate_module, read_ztext
from attnkit.data.text import SPLITS, hash_split, read_parallel, write_parallel
from attnkit.errors import AttnkitError

__all__ = [
    "LANGS",
    "MODULES",
    "Alignment",
    "align",
    "build",
    "chapter_of",
    "fetch",
    "load_keys",
    "load_pairs",
    "restore_drop_caps",
    "split_pairs",
]

LANGS = ("es", "en")
PACKAGES = ["sword-text-sparv", "sword-text-web"]
MODULES = {"es": "spaRV1909eb", "en": "engWEB2015eb"}
SALT = "bible-es-en"
DEV_FRACTION = 0.03
TEST_FRACTION = 0.05
SHIFT_THRESHOLD = 0.23
MAX_LENGTH_FACTOR = 3.0


def chapter_of(key: str) -> str:
    """``"Gen.1.1"`` -> ``"Gen.1"``."""
    return key.rpartition(".")[0]


@dataclass
class Alignment:
    """What :func:`align` kept and what it dropped."""

    triples: list[tuple[str, str, str]]  # (key, source text, target text), source order
    stats: dict[str, int]  # counts of verses kept / removed by each rule
    shifted_chapters: list[str] = field(default_factory=list)


_CAPS_WORD = re.compile(r"[^\W\d_]+")  # a run of letters
_LEADING_CAPS = re.compile(r"^([¡¿(«“]?)((?:[^\W\d_a-zß-ÿ]+[ ,.;:]+)*[^\W\d_a-zß-ÿ]+)(?=\W|$)")


def restore_drop_caps(texts: Mapping[str, str]) -> dict[str, str]:
    """Re-case the all-capital words that open verse 1 of each chapter.

    Args:
        texts: key -> verse text of one module.

    Returns:
        A copy where, in each chapter's first verse, the leading run of upper-case words
        takes each word's most frequent non-upper-case spelling in ``texts`` (lower case
        if it has none) and the first letter is upper case. Other verses are unchanged.

    Example:
        >>> restore_drop_caps({"Gen.1.1": "Y DESPUÉS SAMUEL dijo", "Gen.1.2": "Samuel"})
        {'Gen.1.1': 'Y después Samuel dijo', 'Gen.1.2': 'Samuel'}
    """
    counts: Counter[str] = Counter()
    for text in texts.values():
        counts.update(w for w in _CAPS_WORD.findall(text) if not w.isupper())
    best: dict[str, str] = {}
    for word, _ in counts.most_common():  # most frequent spelling first
        best.setdefault(word.lower(), word)

    def recase(match: re.Match[str]) -> str:
        opener, run = match.group(1), match.group(2)
        if not any(len(w) > 1 for w in _CAPS_WORD.findall(run)):
            return match.group(0)  # "Y", "A": an ordinary capital, not a drop cap
        run = _CAPS_WORD.sub(lambda m: best.get(m.group(0).lower(), m.group(0).lower()), run)
        return opener + run[:1].upper() + run[1:]

    out = dict(texts)
    for key, text in texts.items():
        if key.endswith(".1"):
            out[key] = _LEADING_CAPS.sub(recase, text, count=1)
    return out


def align(
    src: Mapping[str, str],
    tgt: Mapping[str, str],
    *,
    shift_threshold: float = SHIFT_THRESHOLD,
    max_length_factor: float = MAX_LENGTH_FACTOR,
) -> Alignment:
    """Pair verses by key and drop shifted chapters and misaligned pairs.

    Args:
        src: key -> source-language verse text.
        tgt: key -> target-language verse text.
        shift_threshold: a chapter whose mean absolute deviation of the log length
            ratio from the corpus median exceeds this is dropped.
        max_length_factor: a pair whose length ratio is off the median by more than this
            factor is dropped.

    Returns:
        The kept ``(key, src_text, tgt_text)`` triples in the source's order, counts of
        what each rule removed, and the dropped chapters.
    """
    keys = [k for k, v in src.items() if v.strip() and tgt.get(k, "").strip()]
    stats = {
        "source_verses": sum(1 for v in src.values() if v.strip()),
        "target_verses": sum(1 for v in tgt.values() if v.strip()),
        "common_verses": len(keys),
    }
    if not keys:
        return Alignment([], {**stats, "shifted_chapters": 0, "shifted_pairs": 0, "pairs": 0})
    ratio = {k: math.log(len(src[k]) / len(tgt[k])) for k in keys}
    median = statistics.median(ratio.values())

    by_chapter: dict[str, list[str]] = defaultdict(list)
    for k in keys:
        by_chapter[chapter_of(k)].append(k)
    limit = math.log(max_length_factor)
    # A verse's deviation is capped at the outlier limit: one merged verse alone must not
    # make its chapter look shifted (rule 3 removes that verse).
    shifted = {
        ch
        for ch, ks in by_chapter.items()
        if statistics.fmean(min(limit, abs(ratio[k] - median)) for k in ks) > shift_threshold
    }
    triples, outliers, shifted_pairs = [], 0, 0
    for k in keys:
        if chapter_of(k) in shifted:
            shifted_pairs += 1
        elif abs(ratio[k] - median) > limit:
            outliers += 1
        else:
            triples.append((k, src[k], tgt[k]))
    stats |= {
        "shifted_chapters": len(shifted),
        "shifted_pairs": shifted_pairs,
        "length_outliers": outliers,
        "pairs": len(triples),
    }
    return Alignment(triples, stats, sorted(shifted))


def split_pairs(
    triples: Iterable[tuple[str, str, str]],
    *,
    dev: float = DEV_FRACTION,
    test: float = TEST_FRACTION,
    salt: str = SALT,
) -> dict[str, list[tuple[str, str, str]]]:
    """Split ``(key, src, tgt)`` triples by a hash of each verse's chapter."""
    out: dict[str, list[tuple[str, str, str]]] = {s: [] for s in SPLITS}
    for triple in triples:
        out[hash_split(chapter_of(triple[0]), dev=dev, test=test, salt=salt)].append(triple)
    return out


def _write(dest: Path, splits: dict[str, list[tuple[str, str, str]]]) -> None:
    for split, triples in splits.items():
        write_parallel(
            dest, split, LANGS, [(s, t) for _, s, t in triples], keys=[k for k, _, _ in triples]
        )


def fetch(dest: Path) -> None:
    """Download both SWORD modules, align, clean, split and write the corpus into ``dest``.

    Raises:
        AttnkitError: apt-get cannot fetch the packages, or the modules are unreadable.
    """
    from attnkit.data.fetch import apt_download_extract

    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="attnkit-sword-") as tmp:
        root = apt_download_extract(list(PACKAGES), Path(tmp)) / "usr/share/sword"
        texts = {lang: dict(read_ztext(locate_module(root, m))) for lang, m in MODULES.items()}
    build(restore_drop_caps(texts["es"]), texts["en"], dest)


def build(src: Mapping[str, str], tgt: Mapping[str, str], dest: Path) -> dict[str, int]:
    """Align, clean, split and write (everything :func:`fetch` does after reading).

    Returns:
        The counts written to ``dest/README``.
    """
    aligned = align(src, tgt)
    if not aligned.triples:
        raise AttnkitError("the two Bible modules have no verse key in common")
    splits = split_pairs(aligned.triples)
    _write(Path(dest), splits)
    counts = {**aligned.stats, **{f"{s}_pairs": len(v) for s, v in splits.items()}}
    lines = [
        "bible-es-en: Spanish Reina-Valera 1909 -> English World English Bible, verse-aligned.",
        "Public domain. Debian packages sword-text-sparv (spaRV1909eb, v11n KJV) and",
        "sword-text-web (engWEB2015eb, v11n NRSVA), read by attnkit.data.sword.",
        "Files: {train,dev,test}.{es,en} one verse a line; keys.{split} the verse of each line.",
        f"Split: whole chapters by sha256 of '{SALT}' + chapter; dev {DEV_FRACTION:.0%}, "
        f"test {TEST_FRACTION:.0%}.",
        "",
        *(f"{k}: {v}" for k, v in counts.items()),
        f"shifted chapters dropped: {' '.join(aligned.shifted_chapters) or 'none'}",
        "",
    ]
    (Path(dest) / "README").write_text("\n".join(lines), encoding="utf-8")
    return counts


def load_pairs(dir: str | Path, split: str) -> list[tuple[str, str]]:
    """``(spanish, english)`` pairs of one split (``"train"``, ``"dev"`` or ``"test"``)."""
    return read_parallel(dir, split, LANGS)


def load_keys(dir: str | Path, split: str) -> list[str]:
    """The verse key (``"Gen.1.1"``) of each pair of ``load_pairs(dir, split)``."""
    path = Path(dir) / f"keys.{split}"
    if not path.exists():
        raise AttnkitError(f"missing {path} (fetch the corpus first)")
    return path.read_text(encoding="utf-8").split()
