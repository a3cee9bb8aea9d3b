"""Summarization: a Debian package's long description -> its one-line synopsis (~45k pairs).

Source: the ``Translation-en`` index of the ``main`` component of the machine's Debian suite
(e.g. ``bookworm``), downloaded by apt's own client, ``apt-get update``, with its state and
cache folders in a temporary folder and only that one index enabled, so no root is needed
and the machine's own package lists are untouched. The suite, mirror and signing key are the
machine's (``/etc/apt/sources.list`` and ``sources.list.d``). Descriptions are the
maintainers' text (each package's own licence; Debian's archive redistributes them).

The index holds one paragraph per description (Debian Policy 5.6.13)::

    Package: 0ad-data
    Description-md5: 26581e685027d5ae84824362a4ba59ee
    Description-en: Real-time strategy game of ancient warfare (data files)
     0 A.D. (pronounced "zero ey-dee") is a free, open-source, cross-platform
     real-time strategy (RTS) game of ancient warfare.
     .
     This package contains the main data files required by 0 A.D.

The first line of ``Description-en`` is the synopsis (the summary); the continuation lines are
the long description (the document). A line `` .`` separates paragraphs; lines indented
further are shown verbatim (lists, code) by package managers.

Rules (deterministic; counts go to ``README.txt``):

- The document is the long description as one line of plain text: continuation lines and
  paragraphs joined by single spaces, whitespace collapsed; list markers (``*``, ``-``) are
  kept as text.
- Pairs with an empty long description are dropped.
- Packages are taken in order of name (a name listed twice, with two descriptions, keeps its
  first one), and a long description shared by several packages (``foo`` and ``foo-dbg``
  often share theirs) is kept once, with the first package.
- Split by the description itself: ``int(sha1(document).hexdigest(), 16) % 20`` is 0 for
  test, 1 for dev, anything else for train (5 % / 5 % / 90 %).

Files: ``{train,dev,test}.jsonl`` (see :mod:`attnkit.data.summaries`), ``README.txt``.

Example:
    >>> text = '''Package: foo
    ... Description-md5: 0
    ... Description-en: frobnicate files
    ...  Foo frobnicates
    ...  files.
    ...  .
    ...  It is fast.
    ... '''
    >>> parse_translation(text)
    [('foo', 'frobnicate files', 'Foo frobnicates files. It is fast.')]
"""

from __future__ import annotations

import bz2
import gzip
import lzma
import re
import subprocess
import tempfile
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from attnkit import log
from attnkit.data.summaries import SPLITS, SummaryPair, split_by_hash, write_split
from attnkit.errors import AttnkitError

__all__ = [
    "AptSource",
    "build",
    "fetch",
    "machine_source",
    "make_pairs",
    "parse_translation",
    "split_of",
]

APT_SOURCES = Path("/etc/apt")  # sources.list and sources.list.d/ of the machine


# --------------------------------------------------------------------------- the index


def _long_description(lines: list[str]) -> str:
    """Plain text of the continuation lines of ``Description-en`` (leading space removed)."""
    words: list[str] = []
    for line in lines:
        if line.strip() == ".":  # a paragraph break
            continue
        words.extend(line.split())
    return " ".join(words)


def parse_translation(text: str) -> list[tuple[str, str, str]]:
    """``(package, synopsis, long description)`` of every paragraph of a ``Translation-en``.

    The long description is one line of plain text (``""`` when there is none); paragraphs
    without ``Package`` or ``Description-en`` are skipped. The file's order is kept.
    """
    entries: list[tuple[str, str, str]] = []
    fields: dict[str, list[str]] = {}
    current: list[str] | None = None

    def flush() -> None:
        if "package" in fields and "description-en" in fields:
            synopsis, *rest = fields["description-en"]
            package = fields["package"][0].strip()
            entries.append((package, " ".join(synopsis.split()), _long_description(rest)))
        fields.clear()

    for line in text.splitlines():
        if not line.strip():  # a blank line ends the paragraph
            flush()
            current = None
        elif line[0] in " \t":  # a continuation line of the last field
            if current is not None:
                current.append(line[1:])
        elif ":" in line:
            name, _, value = line.partition(":")
            current = fields[name.strip().lower()] = [value.strip()]
        else:
            current = None  # not a field: ignored
    flush()
    return entries


def split_of(document: str) -> str:
    """The split of a pair: ``int(sha1(document), 16) % 20``: 0 test, 1 dev, else train.

    Example:
        >>> split_of("Foo frobnicates files. It is fast.")
        'train'
    """
    return split_by_hash(document)


def make_pairs(
    entries: Iterable[tuple[str, str, str]],
) -> tuple[dict[str, list[SummaryPair]], dict[str, int]]:
    """Filter, deduplicate and split ``(package, synopsis, long description)`` entries.

    Returns:
        ``({split: pairs sorted by package}, counts)``.
    """
    entries = sorted(entries, key=lambda e: e[0])  # stable: a repeated name keeps file order
    counts = dict.fromkeys(
        ("descriptions", "repeated_package", "no_long_description", "no_synopsis"), 0
    )
    counts["descriptions"] = len(entries)
    counts["duplicate_description"] = 0
    seen_packages: set[str] = set()
    seen_documents: set[str] = set()
    splits: dict[str, list[SummaryPair]] = {s: [] for s in SPLITS}
    for package, synopsis, document in entries:
        if package in seen_packages:
            counts["repeated_package"] += 1
            continue
        seen_packages.add(package)
        if not document or not synopsis:
            counts["no_long_description" if not document else "no_synopsis"] += 1
            continue
        if document in seen_documents:
            counts["duplicate_description"] += 1
            continue
        seen_documents.add(document)
        splits[split_of(document)].append(SummaryPair(package, document, synopsis))
    for s in SPLITS:
        counts[f"{s}_pairs"] = len(splits[s])
    return splits, counts


def _mean_words(texts: list[str]) -> float:
    return sum(len(t.split()) for t in texts) / max(len(texts), 1)


def build(text: str, dest: str | Path, *, source: str = "", date: str = "") -> dict[str, int]:
    """Parse a ``Translation-en`` text, write the three splits and ``README.txt`` into ``dest``.

    Args:
        text: the decompressed index.
        dest: the corpus folder (exists).
        source: where the index came from, for the README (mirror, suite, component).
        date: the ``Date`` of the suite's ``Release`` file, for the README.

    Returns:
        The counts written to the README.

    Raises:
        AttnkitError: the text holds no description with a long description.
    """
    splits, counts = make_pairs(parse_translation(text))
    total = sum(len(v) for v in splits.values())
    if total == 0:
        raise AttnkitError("the Translation-en index holds no package with a long description")
    dest = Path(dest)
    for split, pairs in splits.items():
        write_split(dest, split, pairs)
    pairs = [p for v in splits.values() for p in v]
    lines = [
        "debian-descriptions: Debian package long description -> one-line synopsis.",
        f"Source: {source or 'a Debian Translation-en index'}",
        f"Release date: {date or 'unknown'}",
        f"Built: {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}",
        "Files: {train,dev,test}.jsonl, one {id: package, document, summary} a line.",
        "Document: the long description, paragraphs joined, whitespace collapsed.",
        "Summary: the synopsis (first line of Description-en).",
        "Filter: no empty long description; one pair per package name (first in the index);",
        "  identical long descriptions kept once (first package in name order).",
        "Split: int(sha1(document).hexdigest(), 16) % 20: 0 test, 1 dev, else train.",
        "",
        *(f"{k}: {v}" for k, v in counts.items()),
        f"pairs: {total}",
        f"mean_words_document: {_mean_words([p.document for p in pairs]):.1f}",
        f"mean_words_summary: {_mean_words([p.summary for p in pairs]):.1f}",
        "",
    ]
    (dest / "README.txt").write_text("\n".join(lines), encoding="utf-8")
    return counts


# --------------------------------------------------------------------------- apt


@dataclass(frozen=True)
class AptSource:
    """One ``deb`` source of the machine, narrowed to one suite and the ``main`` component."""

    uri: str  # http://deb.debian.org/debian
    suite: str  # bookworm
    text: str  # the deb822 stanza apt reads: Types, URIs, Suites, Components, Signed-By, ...


def _deb822_stanzas(text: str) -> list[list[str]]:
    """Stanzas of a ``.sources`` file as lists of lines (comments dropped)."""
    stanzas: list[list[str]] = [[]]
    for line in text.splitlines():
        if line.startswith("#"):
            continue
        if not line.strip():
            if stanzas[-1]:
                stanzas.append([])
            continue
        stanzas[-1].append(line)
    return [s for s in stanzas if s]


def _fields(stanza: list[str]) -> dict[str, str]:
    fields: dict[str, str] = {}
    name = ""
    for line in stanza:
        if line[0] in " \t" and name:
            fields[name] += "\n" + line
        else:
            name, _, value = line.partition(":")
            name = name.strip().lower()
            fields[name] = value.strip()
    return fields


def _is_main_suite(suite: str) -> bool:
    # bookworm, stable, sid; not bookworm-updates, bookworm-security or bookworm/updates
    return bool(suite) and "-" not in suite and "/" not in suite


def _candidates(path: Path) -> list[AptSource]:
    """The sources of one file that offer ``main`` of a main suite, in file order."""
    found = []
    text = path.read_text(encoding="utf-8", errors="replace")
    if path.suffix == ".sources":
        for stanza in _deb822_stanzas(text):
            f = _fields(stanza)
            if "deb" not in f.get("types", "").split() or f.get("enabled", "yes") == "no":
                continue
            if "main" not in f.get("components", "").split():
                continue
            suites = [s for s in f.get("suites", "").split() if _is_main_suite(s)]
            uris = f.get("uris", "").split()
            if not suites or not uris:
                continue
            kept, field = [], ""
            for line in stanza:  # the other fields, with their continuation lines
                if line[0] not in " \t":
                    field = line.partition(":")[0].strip().lower()
                if field not in ("types", "uris", "suites", "components", "enabled"):
                    kept.append(line)
            stanza_text = "\n".join(
                [
                    "Types: deb",
                    f"URIs: {uris[0]}",
                    f"Suites: {suites[0]}",
                    "Components: main",
                    *kept,
                ]
            )
            found.append(AptSource(uris[0], suites[0], stanza_text + "\n"))
    else:  # one-line format: deb [options] uri suite component...
        for line in text.splitlines():
            m = re.match(r"\s*deb\s+(\[[^\]]*\]\s+)?(\S+)\s+(\S+)\s+(.*)", line.split("#")[0])
            if not m or not _is_main_suite(m[3]) or "main" not in m[4].split():
                continue
            options = {}
            for opt in (m[1] or "").strip(" []\n").split():
                key, _, value = opt.partition("=")
                options[key.lower()] = value
            extra = []
            if "signed-by" in options:
                extra.append(f"Signed-By: {options['signed-by']}")
            if "arch" in options:
                extra.append(f"Architectures: {options['arch'].replace(',', ' ')}")
            if "trusted" in options:
                extra.append(f"Trusted: {options['trusted']}")
            stanza_text = "\n".join(
                [f"Types: deb\nURIs: {m[2]}\nSuites: {m[3]}\nComponents: main", *extra]
            )
            found.append(AptSource(m[2], m[3], stanza_text + "\n"))
    return found


def machine_source(etc_apt: Path = APT_SOURCES) -> AptSource:
    """The machine's first ``deb`` source of a main suite (not ``-updates``/``-security``) that
    has ``main``, narrowed to that suite and component.

    Raises:
        AttnkitError: the machine lists no such source.
    """
    files = [etc_apt / "sources.list"]
    parts = etc_apt / "sources.list.d"
    if parts.is_dir():
        files += sorted(p for p in parts.iterdir() if p.suffix in (".list", ".sources"))
    for path in files:
        if path.is_file():
            found = _candidates(path)
            if found:
                return found[0]
    raise AttnkitError(
        f"no Debian source with the 'main' component of a release suite in {etc_apt}/"
        "sources.list(.d); debian-descriptions reads the archive that apt-get uses"
    )


def _read_index(path: Path) -> str:
    """The text of an index apt saved, compressed or not."""
    openers = {".gz": gzip.open, ".xz": lzma.open, ".lzma": lzma.open, ".bz2": bz2.open}
    if path.suffix in openers:
        with openers[path.suffix](path, "rb") as f:
            return f.read().decode("utf-8", errors="replace")
    if path.suffix in (".lz4", ".zst"):  # not in the stdlib: apt's own helper reads them
        result = subprocess.run(
            ["/usr/lib/apt/apt-helper", "cat-file", str(path)], capture_output=True, check=False
        )
        if result.returncode != 0:
            raise AttnkitError(f"cannot decompress {path.name}: {result.stderr.decode()[-300:]}")
        return result.stdout.decode("utf-8", errors="replace")
    return path.read_text(encoding="utf-8", errors="replace")


def _release_date(lists: Path) -> str:
    for release in sorted(lists.glob("*Release")):
        for line in release.read_text(encoding="utf-8", errors="replace").splitlines():
            if line.startswith("Date:"):
                return line.partition(":")[2].strip()
    return ""


def download_translation(source: AptSource, into: Path) -> tuple[str, str]:
    """Run ``apt-get update`` for ``source``'s ``Translation-en`` only, inside ``into``.

    Returns:
        ``(index text, Release date)``.

    Raises:
        AttnkitError: apt-get is missing or fails, or it leaves no Translation-en.
    """
    lists, cache, etc = into / "state/lists", into / "cache", into / "etc"
    for folder in (lists / "partial", cache / "archives/partial", etc / "sources.list.d"):
        folder.mkdir(parents=True, exist_ok=True)
    (etc / "sources.list.d" / "attnkit.sources").write_text(source.text, encoding="utf-8")
    (etc / "sources.list").write_text("", encoding="utf-8")
    options = {
        "Dir::State": into / "state",
        "Dir::State::Lists": lists,
        "Dir::Cache": cache,
        "Dir::Etc::SourceList": etc / "sources.list",
        "Dir::Etc::SourceParts": etc / "sources.list.d",
        "Acquire::Languages": "en",
        "Acquire::GzipIndexes": "false",  # store the index decompressed
        "APT::Sandbox::User": "root",  # as root, _apt could not write into a private tmp
        # only the translation: no Packages, Contents or AppStream indexes
        "Acquire::IndexTargets::deb::Packages::DefaultEnabled": "false",
        "Acquire::IndexTargets::deb::Contents-deb::DefaultEnabled": "false",
        "Acquire::IndexTargets::deb::DEP-11::DefaultEnabled": "false",
    }
    cmd = ["apt-get", "update", "-q"]
    for key, value in options.items():
        cmd += ["-o", f"{key}={value}"]
    log.info(f"  apt-get update: {source.uri} {source.suite} main Translation-en ...")
    t0 = time.perf_counter()
    try:
        result = subprocess.run(cmd, capture_output=True, text=True, check=False)
    except FileNotFoundError:
        raise AttnkitError("'apt-get' is not installed on this machine") from None
    found = sorted(p for p in lists.glob("*_i18n_Translation-en*") if p.is_file())
    if result.returncode != 0 or not found:
        raise AttnkitError(
            f"apt-get update could not fetch {source.suite}/main Translation-en from "
            f"{source.uri}: {(result.stderr or result.stdout).strip()[-400:]}"
        )
    size = found[0].stat().st_size / 1e6
    log.info(f"  got {found[0].name}, {size:.1f} MB in {time.perf_counter() - t0:.1f} s")
    return _read_index(found[0]), _release_date(lists)


def fetch(dest: Path) -> None:
    """Download the machine suite's ``main`` Translation-en and write the corpus into ``dest``.

    Raises:
        AttnkitError: no usable apt source, or apt-get cannot fetch the index.
    """
    source = machine_source()
    with tempfile.TemporaryDirectory(prefix="attnkit-apt-") as tmp:
        text, date = download_translation(source, Path(tmp))
    counts = build(
        text, dest, source=f"{source.uri} {source.suite}/main i18n/Translation-en", date=date
    )
    pairs = sum(counts[f"{s}_pairs"] for s in SPLITS)
    log.info(f"  {pairs} pairs from {counts['descriptions']} descriptions")
