"""SWORD zText reader: a module written here byte by byte, then read back."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import pytest

from attnkit.data.sword import (
    iter_slots,
    locate_module,
    read_conf,
    read_ztext,
    strip_osis,
    write_ztext,
)
from attnkit.errors import AttnkitError


def write_testament(directory: Path, testament: str, slots: list[str], per_block: int) -> None:
    """An independent writer of the on-disk format (not attnkit's write_ztext)."""
    bzs, bzv, bzz = b"", b"", b""
    for block, first in enumerate(range(0, len(slots), per_block)):
        raw = b""
        for text in slots[first : first + per_block]:
            data = text.encode("utf-8")
            bzv += struct.pack("<IIH", block, len(raw), len(data))
            raw += data
        packed = zlib.compress(raw, 9)
        bzs += struct.pack("<III", len(bzz), len(packed), len(raw))
        bzz += packed
    directory.mkdir(parents=True, exist_ok=True)
    (directory / f"{testament}.bzs").write_bytes(bzs)
    (directory / f"{testament}.bzv").write_bytes(bzv)
    (directory / f"{testament}.bzz").write_bytes(bzz)


def book(osis: str, sid: str) -> str:
    return (
        f'<div canonical="true" osisID="{osis}" sID="{sid}" type="book"/> '
        f'<milestone n="{osis}" type="x-usfm-h"/> <title level="1" type="main">{osis}</title>'
    )


def chapter(ref: str) -> str:
    n = ref.rpartition(".")[2]
    return f'<div sID="p" type="x-p"/><chapter n="{n}" osisID="{ref}" sID="{ref}"/>'


IMPORTER = '<milestone type="x-importer" subType="x-osis2mod" n="$Rev: 3769 $"/>'

# Old Testament laid out like osis2mod does: module heading, testament heading, then per
# book a heading slot and per chapter a heading slot followed by its verses.
OT_SLOTS = [
    "",  # module heading
    IMPORTER,  # testament heading
    book("Gen", "g1"),
    chapter("Gen.1"),
    '<w lemma="strong:H7225">In the beginning</w> <w lemma="strong:H0430">God</w>'
    '<note placement="foot"><reference type="annotateRef">1:1 </reference>Elohim.</note>'
    '<w lemma="strong:H1254">created</w> the heavens.',
    "",  # Gen.1.2: an empty verse slot
    'The earth<note>a note</note>.  <chapter eID="Gen.1"/>',
    chapter("Gen.2"),
    '<title type="x-section">Rest</title>Thus the heavens were &amp; finished.'
    '<chapter eID="Gen.2"/> <div eID="g1" osisID="Gen" type="book"/>',
    book("Ps", "g2"),
    chapter("Ps.1") + ' <milestone n="Psalm 1" type="x-chapterLabel"/> <title>BOOK 1</title>',
    '<title canonical="true" type="psalm">A Psalm.</title> <lg sID="a"/><l sID="b"/>Blessed '
    'is the man,<l eID="b"/><l sID="c"/>who walks<l eID="c"/>',
    '¡<w lemma="strong:H1">OH</w> “<q who="x"><w>Let</w></q> ¿<w>Sáca</w><transChange '
    'type="added">lo</transChange> <w>Abram</w><transChange type="added">de allí</transChange>?',
]
NT_SLOTS = [
    "",
    IMPORTER,
    book("Rev", "n1"),
    chapter("Rev.1"),
    'Grace be with all. Amen.  <chapter eID="Rev.1"/>'
    '<div eID="n1" osisID="Rev" type="book"/> <div sID="x" type="glossary"/>'
    "<title>Glossary</title> Abba is a word for father.",
]

EXPECTED = [
    ("Gen.1.1", "In the beginning God created the heavens."),
    ("Gen.1.3", "The earth."),
    ("Gen.2.1", "Thus the heavens were & finished."),
    ("Ps.1.1", "A Psalm. Blessed is the man, who walks"),
    ("Ps.1.2", "¡OH “Let ¿Sácalo Abram de allí?"),
    ("Rev.1.1", "Grace be with all. Amen."),
]


@pytest.fixture
def module(tmp_path: Path) -> Path:
    directory = tmp_path / "modules/texts/ztext/testmod"
    write_testament(directory, "ot", OT_SLOTS, per_block=3)  # verses cross block edges
    write_testament(directory, "nt", NT_SLOTS, per_block=100)
    return directory


def test_reads_keys_and_plain_text(module: Path) -> None:
    assert list(read_ztext(module)) == EXPECTED


def test_iter_slots_returns_every_slot_in_order(module: Path) -> None:
    assert list(iter_slots(module, "ot")) == OT_SLOTS
    assert list(iter_slots(module, "nt")) == NT_SLOTS


@pytest.mark.parametrize("per_block", [1, 2, 5, 64])
def test_write_ztext_round_trip(tmp_path: Path, per_block: int) -> None:
    write_ztext(tmp_path, "ot", OT_SLOTS, slots_per_block=per_block)
    assert list(iter_slots(tmp_path, "ot")) == OT_SLOTS
    # and byte-compatible with the independent writer's reading of the format
    assert [k for k, _ in read_ztext(tmp_path)] == [k for k, _ in EXPECTED if k[:3] != "Rev"]


def test_new_testament_only_module(tmp_path: Path) -> None:
    write_testament(tmp_path, "nt", NT_SLOTS, per_block=2)
    assert list(read_ztext(tmp_path)) == [EXPECTED[-1]]


def test_missing_chapter_heading_is_an_error(tmp_path: Path) -> None:
    slots = ["", IMPORTER, book("Gen", "g"), chapter("Gen.1"), "a", chapter("Gen.3"), "b"]
    write_testament(tmp_path, "ot", slots, per_block=4)
    with pytest.raises(AttnkitError, match=r"Gen\.3 follows Gen\.1"):
        list(read_ztext(tmp_path))


def test_no_module_files_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(AttnkitError, match="no SWORD zText module"):
        list(read_ztext(tmp_path))


def test_corrupt_block_is_an_error(module: Path) -> None:
    data = bytearray((module / "ot.bzz").read_bytes())
    data[5] ^= 0xFF
    (module / "ot.bzz").write_bytes(bytes(data))
    with pytest.raises(AttnkitError, match="corrupt"):
        list(read_ztext(module))


def test_truncated_index_is_an_error(module: Path) -> None:
    (module / "ot.bzv").write_bytes((module / "ot.bzv").read_bytes()[:-3])
    with pytest.raises(AttnkitError, match="corrupt"):
        list(iter_slots(module, "ot"))


def test_bad_testament_name() -> None:
    with pytest.raises(ValueError, match="testament"):
        list(iter_slots(".", "apocrypha"))


@pytest.mark.parametrize(
    ("markup", "text"),
    [
        ("<w>a</w><note>n</note><w>b</w>", "a b"),
        ("a<note>n</note>, b", "a, b"),
        ("conceived,<note>n</note>and", "conceived, and"),
        ("“<q>Let</q>” <note>n</note>x<note>n</note>", "“Let” x"),
        ('<note type="x"><reference>1:1</reference><rdg>v</rdg></note>', ""),
        ("line one<l eID='1'/><l sID='2'/>line two", "line one line two"),
        ("<speaker>Lover</speaker> x", "x"),
        ("  many \n spaces\t", "many spaces"),
        ("&lt;b&gt; &quot;q&quot;", '<b> "q"'),
        ('<w>Da</w><transChange type="added">le</transChange>', "Dale"),  # enclitic pronoun
        ('<w>es</w><transChange type="added">bueno</transChange>', "es bueno"),
    ],
)
def test_strip_osis(markup: str, text: str) -> None:
    assert strip_osis(markup) == text


def test_locate_module_reads_conf(tmp_path: Path) -> None:
    (tmp_path / "mods.d").mkdir()
    (tmp_path / "mods.d/testmod.conf").write_text(
        "[TestMod]\nDataPath=./modules/texts/ztext/testmod/\nModDrv=zText\n"
        "CompressType=ZIP\nEncoding=UTF-8\n# comment\nVersification=KJV\n",
        encoding="utf-8",
    )
    assert read_conf(tmp_path / "mods.d/testmod.conf")["name"] == "TestMod"
    assert locate_module(tmp_path, "TestMod") == (tmp_path / "modules/texts/ztext/testmod")
    with pytest.raises(AttnkitError, match="no SWORD module 'Other'"):
        locate_module(tmp_path, "Other")


def test_locate_module_rejects_other_drivers(tmp_path: Path) -> None:
    (tmp_path / "mods.d").mkdir()
    (tmp_path / "mods.d/raw.conf").write_text("[raw]\nModDrv=RawText\n", encoding="utf-8")
    with pytest.raises(AttnkitError, match="only zText"):
        locate_module(tmp_path, "raw")
