"""Read SWORD zText Bible modules in pure Python (no libsword).

A zText module keeps each testament in three files under its data directory
(``usr/share/sword/modules/texts/ztext/<module>/`` in the Debian packages)::

    {ot,nt}.bzs   block index: per block  <uint32 offset, uint32 compressed size,
                  uint32 uncompressed size>  (little-endian, 12 bytes)
    {ot,nt}.bzv   verse index: per slot   <uint32 block, uint32 offset in the
                  uncompressed block, uint16 size>  (little-endian, 10 bytes)
    {ot,nt}.bzz   the blocks, each compressed on its own with zlib (``CompressType=ZIP``)

Slots follow the module's versification (v11n) in order: slot 0 and 1 are the
module and testament headings, then for each book a book-heading slot and, for
each chapter, a chapter-heading slot followed by one slot per verse.

How verses get their keys. The index position alone would need the slot table of
the module's versification, and the two modules attnkit uses do not share one:
``spaRV1909eb`` is ``Versification=KJV`` but ``engWEB2015eb`` is ``NRSVA`` (the
deuterocanonical books sit inside its Old Testament, so every index after Malachi
differs, and a few chapters such as Rev 12 have a different number of verses).
Instead the keys are read from the OSIS markup that ``osis2mod`` leaves in the
heading slots: a book-heading slot holds ``<div type="book" osisID="Gen" sID=...>``
and each chapter-heading slot holds ``<chapter osisID="Gen.1" sID=...>``; the
verse slots that follow a chapter heading are verses 1, 2, 3, ... of that chapter
(osis2mod removes the ``<verse>`` tags themselves). This works for every
versification without tables, and a missing chapter heading is detected (chapter
numbers must go up by one) rather than silently shifting keys.

Example (needs a fetched SWORD module, so not a doctest)::

    for key, text in read_ztext(module_dir):
        print(key, text)  # Gen.1.1 In the beginning, God created the heavens and the earth.
"""

from __future__ import annotations

import html
import re
import struct
import zlib
from collections.abc import Iterator, Sequence
from pathlib import Path

from attnkit.errors import AttnkitError

__all__ = [
    "TESTAMENTS",
    "iter_slots",
    "locate_module",
    "read_conf",
    "read_ztext",
    "strip_osis",
    "write_ztext",
]

TESTAMENTS = ("ot", "nt")

_BZS = struct.Struct("<III")  # offset, compressed size, uncompressed size
_BZV = struct.Struct("<IIH")  # block number, offset in block, size

# A tag's attribute, matched as a whole word so that `osisID=` is not read as `sID=`.
_BOOK_START = re.compile(r"<div\b(?=[^>]*\btype=\"book\")(?=[^>]*\bsID=)[^>]*>")
_CHAPTER_START = re.compile(r"<chapter\b(?=[^>]*\bsID=)[^>]*>")
_OSIS_ID = re.compile(r"\bosisID=\"([^\"]+)\"")

# Elements removed together with their content: footnotes / cross-references and
# editorial headings (section titles, psalm-book titles, speaker labels in Song).
# Canonical titles (`<title canonical="true">`, the Psalm superscriptions) are
# scripture and are kept: the Spanish module has them as plain text in verse 1.
_DROP_WITH_CONTENT = re.compile(
    r"<(note|speaker|title(?![^>]*\bcanonical=\"true\"))\b[^>]*?(?<!/)>.*?</\1\s*>",
    flags=re.DOTALL,
)
# Spanish pronouns the translators added in <transChange> right after a verb:
# `sáca</w><transChange>lo</transChange>` is one word, "sácalo".
_ENCLITIC = re.compile(
    r"(?<=\w)<transChange\b[^>]*>((?:me|te|se|nos|os)?(?:lo|la|los|las|le|les)|me|te|se|nos|os)"
    r"</transChange>(?!\w)",
    flags=re.IGNORECASE,
)
# Tags that end a line or a block always separate words.
_STRUCTURAL_TAG = re.compile(
    r"</?(?:l|lg|lb|p|div|milestone|chapter|verse|list|item|head|table|row|cell|br)\b[^>]*>"
)
_WORD_TAG = re.compile(r"</?w\b[^>]*>")  # <w lemma="strong:H0430">: text is kept as is
_TAG = re.compile(r"<[^>]*>")
# The end of a chapter or book: what follows in the same slot is closing markup or
# back matter (the WEB appends its whole glossary to Rev 22:21), never the verse.
_END_OF_VERSE_TEXT = re.compile(r"<chapter\b[^>]*\beID=|<div\b(?=[^>]*\btype=\"book\")[^>]*\beID=")
_GAP = "\x00"  # where an inline tag was: a space unless punctuation or a space is beside it
_GAPS = re.compile("\x00+")
_GAP_NEEDS_NO_SPACE = re.compile(
    r"^\x00+|\x00+$|\s\x00+|\x00+\s|\x00+(?=[,.;:!?)\]}”’»…])|(?<=[(\[{“‘«¿¡])\x00+"
)
_SPACE = re.compile(r"\s+")


def strip_osis(markup: str) -> str:
    """Turn one slot of OSIS markup into plain text.

    Text after the end of the chapter or book (``<chapter eID=...>``) is cut off.
    Notes (``<note>``, with their content), non-canonical titles and speaker labels
    are removed; every other tag (``<w lemma="strong:H0430">`` Strong's numbers,
    ``<transChange>``, ``<q>``, milestones, paragraph and line markers) is dropped
    and its text kept. Block tags become spaces; any other removed tag or note becomes
    a space unless it touches a space, closing punctuation or an opening quote or
    bracket (``God<note/>created`` and ``said,<note/>and`` get a space,
    ``earth<note/>.`` -> ``earth.``). Entities are unescaped and whitespace
    normalised to single spaces.

    Args:
        markup: the OSIS fragment stored for one verse slot.

    Returns:
        The plain text ("" when the slot holds only markup).

    Example:
        >>> strip_osis('<w lemma="strong:H0430">God</w><note>a note</note><w>created</w>.')
        'God created.'
    """
    end = _END_OF_VERSE_TEXT.search(markup)
    text = markup[: end.start()] if end else markup
    text = _DROP_WITH_CONTENT.sub(_GAP, text)
    text = _WORD_TAG.sub("", text)
    text = _ENCLITIC.sub(r"\1", text)
    text = _STRUCTURAL_TAG.sub(" ", text)
    text = _TAG.sub(_GAP, text)
    text = _GAP_NEEDS_NO_SPACE.sub(lambda m: m.group(0).replace(_GAP, ""), text)
    text = _GAPS.sub(" ", text)
    text = html.unescape(text)
    return _SPACE.sub(" ", text).strip()


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise AttnkitError(f"cannot read SWORD module file {path}: {exc.strerror}") from exc


def iter_slots(module_dir: str | Path, testament: str) -> Iterator[str]:
    """Yield the raw OSIS markup of every slot of one testament, in index order.

    Args:
        module_dir: the zText data directory (holding ``ot.bzs`` ...).
        testament: ``"ot"`` or ``"nt"``.

    Yields:
        One (possibly empty) string per slot of ``{testament}.bzv``.

    Raises:
        AttnkitError: a file is missing, truncated or a block does not decompress to
            the size its index claims.
    """
    if testament not in TESTAMENTS:
        raise ValueError(f"testament must be one of {TESTAMENTS}, got {testament!r}")
    base = Path(module_dir)
    bzs = _read(base / f"{testament}.bzs")
    bzv = _read(base / f"{testament}.bzv")
    bzz = _read(base / f"{testament}.bzz")
    if len(bzs) % _BZS.size or len(bzv) % _BZV.size:
        raise AttnkitError(f"corrupt SWORD index in {base}: {testament}.bzs/.bzv size")
    blocks = [_BZS.unpack_from(bzs, i) for i in range(0, len(bzs), _BZS.size)]
    cache: dict[int, bytes] = {}  # blocks are read in order; keep only the current one

    for pos in range(0, len(bzv), _BZV.size):
        block, offset, size = _BZV.unpack_from(bzv, pos)
        if size == 0:
            yield ""
            continue
        if block not in cache:
            if block >= len(blocks):
                raise AttnkitError(f"corrupt SWORD index in {base}: block {block} out of range")
            start, csize, usize = blocks[block]
            try:
                data = zlib.decompress(bzz[start : start + csize])
            except zlib.error as exc:
                raise AttnkitError(
                    f"corrupt SWORD block {block} in {base / (testament + '.bzz')}: {exc}"
                ) from exc
            if len(data) != usize:
                raise AttnkitError(
                    f"corrupt SWORD block {block} in {base}: {len(data)} bytes, index says {usize}"
                )
            cache.clear()
            cache[block] = data
        raw = cache[block][offset : offset + size]
        if len(raw) != size:
            raise AttnkitError(f"corrupt SWORD index in {base}: slot runs past its block")
        yield raw.decode("utf-8", errors="replace")


def read_ztext(module_dir: str | Path) -> Iterator[tuple[str, str]]:
    """Yield ``(key, plain text)`` for every non-empty verse of a zText module.

    Keys are OSIS references such as ``"Gen.1.1"`` or ``"1John.5.7"``, taken from
    the book and chapter markup in the heading slots (see the module docstring).
    Text in heading slots (book introductions, psalm-book titles, chapter labels)
    is not a verse and is skipped. Testaments whose files are absent are skipped
    (some modules are New Testament only).

    Args:
        module_dir: the directory holding ``{ot,nt}.{bzs,bzv,bzz}``.

    Yields:
        ``(key, text)`` in canonical order; verses whose text is empty are left out.

    Raises:
        AttnkitError: no testament files, corrupt files, or chapter markup that
            skips a chapter (the keys after it could not be trusted).
    """
    base = Path(module_dir)
    present = [t for t in TESTAMENTS if (base / f"{t}.bzv").exists()]
    if not present:
        raise AttnkitError(f"no SWORD zText module in {base} (expected ot.bzv or nt.bzv)")
    for testament in present:
        chapter: str | None = None  # e.g. "Gen.1"; None while in heading slots
        verse = 0
        for slot in iter_slots(base, testament):
            book_start = _BOOK_START.search(slot)
            chapter_start = _CHAPTER_START.search(slot)
            if chapter_start:
                new = _osis_id(chapter_start.group(0), base)
                _check_chapter_order(chapter, new, base)
                chapter, verse = new, 0
                continue
            if book_start:
                chapter = None  # book heading: wait for its first chapter
                continue
            if chapter is None:
                continue  # module / testament heading, book introduction
            verse += 1
            text = strip_osis(slot)
            if text:
                yield f"{chapter}.{verse}", text


def _osis_id(tag: str, base: Path) -> str:
    match = _OSIS_ID.search(tag)
    if match is None:
        raise AttnkitError(f"SWORD module {base}: chapter tag without osisID: {tag}")
    return match.group(1)


def _check_chapter_order(previous: str | None, new: str, base: Path) -> None:
    """Chapters within a book must be numbered 1, 2, 3, ...; a gap means lost markup."""
    book, _, number = new.rpartition(".")
    if not book or not (number.isascii() and number.isdigit()):  # not "²" (isdigit, no int)
        raise AttnkitError(f"SWORD module {base}: unexpected chapter osisID {new!r}")
    if previous is not None:
        prev_book, _, prev_number = previous.rpartition(".")
        if prev_book == book and int(number) != int(prev_number) + 1:
            raise AttnkitError(
                f"SWORD module {base}: chapter {new} follows {previous}; "
                "a chapter heading is missing, verse keys would be wrong"
            )


def read_conf(path: str | Path) -> dict[str, str]:
    """Read a SWORD ``mods.d/*.conf`` file into a dict (the last value of a repeated key wins).

    The section name (``[engWEB2015eb]``) is returned under the key ``"name"``.
    """
    conf: dict[str, str] = {}
    for line in Path(path).read_text(encoding="utf-8", errors="replace").splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("[") and line.endswith("]"):
            conf["name"] = line[1:-1]
        elif "=" in line:
            key, _, value = line.partition("=")
            conf[key.strip()] = value.strip()
    return conf


def locate_module(root: str | Path, name: str) -> Path:
    """Find the data directory of module ``name`` under a SWORD root (``usr/share/sword``).

    Reads ``mods.d/<name>.conf`` (file names are lower case in some packages) and
    checks that it is a zlib-compressed, UTF-8 zText module.

    Raises:
        AttnkitError: no such module, or a driver / compression this reader does not handle.
    """
    root = Path(root)
    mods = root / "mods.d"
    candidates = [mods / f"{name}.conf", mods / f"{name.lower()}.conf"]
    conf_path = next((p for p in candidates if p.exists()), None)
    if conf_path is None:
        found = sorted(p.stem for p in mods.glob("*.conf")) if mods.is_dir() else []
        raise AttnkitError(f"no SWORD module {name!r} under {root} (found: {found or 'none'})")
    conf = read_conf(conf_path)
    driver = conf.get("ModDrv", "").lower()
    if driver != "ztext":
        raise AttnkitError(f"SWORD module {name}: ModDrv={conf.get('ModDrv')}, only zText is read")
    if conf.get("CompressType", "ZIP").upper() != "ZIP":
        raise AttnkitError(f"SWORD module {name}: CompressType={conf['CompressType']} is not ZIP")
    if conf.get("Encoding", "UTF-8").upper().replace("-", "") != "UTF8":
        raise AttnkitError(f"SWORD module {name}: Encoding={conf['Encoding']} is not UTF-8")
    data_path = conf.get("DataPath", f"./modules/texts/ztext/{name.lower()}/")
    return (root / data_path).resolve()


def write_ztext(
    module_dir: str | Path, testament: str, slots: Sequence[str], *, slots_per_block: int = 8
) -> None:
    """Write one testament of a zText module (the inverse of :func:`iter_slots`).

    Used to build small fixture modules in tests; the layout is the one SWORD reads.

    Args:
        module_dir: directory to write ``{testament}.{bzs,bzv,bzz}`` into (created).
        testament: ``"ot"`` or ``"nt"``.
        slots: the markup of every slot, in index order ("" for an empty slot).
        slots_per_block: how many slots go into each zlib block.
    """
    if testament not in TESTAMENTS:
        raise ValueError(f"testament must be one of {TESTAMENTS}, got {testament!r}")
    if slots_per_block < 1:
        raise ValueError(f"slots_per_block must be >= 1, got {slots_per_block}")
    base = Path(module_dir)
    base.mkdir(parents=True, exist_ok=True)
    bzs, bzv, bzz = bytearray(), bytearray(), bytearray()
    for block, first in enumerate(range(0, len(slots), slots_per_block)):
        raw = bytearray()
        for text in slots[first : first + slots_per_block]:
            data = text.encode("utf-8")
            if len(data) > 0xFFFF:
                raise ValueError("a zText slot holds at most 65535 bytes")
            bzv += _BZV.pack(block, len(raw), len(data))
            raw += data
        packed = zlib.compress(bytes(raw))
        bzs += _BZS.pack(len(bzz), len(packed), len(raw))
        bzz += packed
    (base / f"{testament}.bzs").write_bytes(bytes(bzs))
    (base / f"{testament}.bzv").write_bytes(bytes(bzv))
    (base / f"{testament}.bzz").write_bytes(bytes(bzz))
