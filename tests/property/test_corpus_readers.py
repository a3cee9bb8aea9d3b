"""Corpus readers on random and mutated files: an AttnkitError naming the problem, or data of
the promised shape; never another exception.

Each reader starts from valid bytes (a SWORD module, IDX images, People's Daily lines, a
gettext catalog, a gzipped manual page), which must read back exactly, and then gets them
truncated, bit-flipped, padded with garbage or replaced by random bytes.
"""

from __future__ import annotations

import gzip
import re
import shutil

import numpy as np
from hypothesis import example, given
from hypothesis import strategies as st

from attnkit.data import fashion_mnist as fm
from attnkit.data import jupyterlab, manpages, pku, sword
from attnkit.errors import AttnkitError
from conftest import PKU_HELDOUT
from data.test_jupyterlab import LAB, write_mo

from .strategies import broken_bytes, mutated, nasty_text

# --------------------------------------------------------------------------- SWORD zText

_KEY = re.compile(r"^.+\.\d+$")  # "<chapter osisID>.<verse number>"
_BOOKS = st.one_of(st.sampled_from(["Gen", "Exod"]), st.text(max_size=6))
_NUMBERS = st.one_of(
    st.integers(1, 3).map(str),
    st.sampled_from(["", "0", "-1", "²", "١", "1.5"]),
    st.text(max_size=3),
)


def _book(osis: str) -> str:
    return f'<div osisID="{osis}" sID="b" type="book"/><title type="main">{osis}</title>'


def _chapter(ref: str) -> str:
    return f'<chapter n="x" osisID="{ref}" sID="{ref}"/>'


_VERSE_MARKUP = st.sampled_from([
    '<w lemma="strong:H0430">God</w>',
    "<note>a note</note>",
    '<transChange type="added">lo</transChange>',
    "<title>Heading</title>",
    '<title canonical="true">Psalm</title>',
    "<q>",
    "</q>",
    "<",
    ">",
    '<chapter eID="x"/>',
    "&amp;&lt;&#xFFFFFF;&bogus;",
])  # fmt: skip
_SLOT = st.one_of(
    _BOOKS.map(_book),
    st.tuples(_BOOKS, _NUMBERS).map(lambda bn: _chapter(f"{bn[0]}.{bn[1]}")),
    st.lists(st.one_of(_VERSE_MARKUP, nasty_text(max_size=30, surrogates=False)), max_size=6).map(
        "".join
    ),
)

VALID_SLOTS = [
    "",  # module heading
    '<milestone type="x-importer"/>',  # testament heading
    _book("Gen"),
    _chapter("Gen.1"),
    '<w lemma="strong:H0430">In</w> the beginning<note>n</note>, God created.',
    "And the earth was <transChange>without</transChange> form.",
    _chapter("Gen.2"),
    "Thus the heavens &amp; the earth were finished.",
    _book("Exod"),
    _chapter("Exod.1"),
    "Now these are the names.",
]
VALID_VERSES = [
    ("Gen.1.1", "In the beginning, God created."),
    ("Gen.1.2", "And the earth was without form."),
    ("Gen.2.1", "Thus the heavens & the earth were finished."),
    ("Exod.1.1", "Now these are the names."),
]


def _check_verses(verses: list[tuple[str, str]]) -> None:
    for key, text in verses:
        assert _KEY.match(key) and int(key.rpartition(".")[2]) >= 1, key
        assert text and text == " ".join(text.split()), text


def test_the_valid_module_reads_back(tmp_path):
    sword.write_ztext(tmp_path, "ot", VALID_SLOTS, slots_per_block=3)
    assert list(sword.read_ztext(tmp_path)) == VALID_VERSES


@given(slots=st.lists(_SLOT, max_size=20), per_block=st.integers(1, 5))
@example(slots=[_chapter("Gen.1"), "v", _chapter("Gen.²"), "v"], per_block=2)  # "²".isdigit()
def test_ztext_random_markup_gives_verses_or_a_clear_error(tmp_path, slots, per_block):
    sword.write_ztext(tmp_path, "ot", ["", "", *slots], slots_per_block=per_block)
    try:
        verses = list(sword.read_ztext(tmp_path))
    except AttnkitError as e:
        assert str(tmp_path) in str(e)
        return
    _check_verses(verses)


@given(data=st.data(), which=st.sampled_from(["bzs", "bzv", "bzz"]))
def test_ztext_mutated_files_give_verses_or_a_clear_error(tmp_path, data, which):
    sword.write_ztext(tmp_path, "ot", VALID_SLOTS, slots_per_block=3)
    path = tmp_path / f"ot.{which}"
    path.write_bytes(data.draw(broken_bytes(path.read_bytes())))
    try:
        verses = list(sword.read_ztext(tmp_path))
    except AttnkitError as e:
        assert str(tmp_path) in str(e)
        return
    _check_verses(verses)


@given(
    markup=st.lists(st.one_of(_VERSE_MARKUP, nasty_text(max_size=30, surrogates=False)), max_size=8)
)
def test_strip_osis_returns_clean_text(markup):
    text = sword.strip_osis("".join(markup))
    assert text == " ".join(text.split())


# --------------------------------------------------------------------------- IDX


@st.composite
def _idx_arrays(draw) -> np.ndarray:
    dtype = draw(st.sampled_from([np.uint8, np.int8, np.int16, np.int32, np.float32]))
    shape = draw(st.lists(st.integers(0, 4), min_size=1, max_size=3))
    values = draw(st.lists(st.integers(0, 127), min_size=int(np.prod(shape)), max_size=64))
    return np.array(values[: int(np.prod(shape))], dtype=dtype).reshape(shape)


@given(array=_idx_arrays(), gz=st.booleans(), data=st.data())
def test_idx_mutated_files_give_an_array_or_a_clear_error(tmp_path, array, gz, data):
    path = tmp_path / ("x-idx-ubyte.gz" if gz else "x-idx-ubyte")
    fm.write_idx(path, array)
    np.testing.assert_array_equal(fm.read_idx(path), array)
    valid = path.read_bytes()
    path.write_bytes(data.draw(broken_bytes(gzip.decompress(valid) if gz else valid)))
    if gz and data.draw(st.booleans()):  # also corrupt the gzip layer around it
        path.write_bytes(data.draw(mutated(gzip.compress(path.read_bytes(), mtime=0))))
    try:
        got = fm.read_idx(path)
    except AttnkitError as e:
        assert str(path) in str(e)
        return
    assert got.ndim >= 1 and got.dtype.isnative


@given(data=st.data(), name=st.sampled_from([n for pair in fm.FILES.values() for n in pair]))
def test_fashion_mnist_splits_from_mutated_files(tmp_path, fmnist_root, data, name):
    root = tmp_path / "fm"
    shutil.rmtree(root, ignore_errors=True)
    shutil.copytree(fmnist_root, root)
    raw = gzip.decompress((root / name).read_bytes())
    (root / name).write_bytes(gzip.compress(data.draw(mutated(raw)), mtime=0))
    split = data.draw(st.sampled_from(fm.SPLITS))
    try:
        images, labels = fm.load_split(split, root, validation_per_class=2)
    except AttnkitError:
        return
    assert images.dtype == np.uint8 and images.ndim == 3 and labels.dtype == np.int64
    assert len(images) == len(labels) and ((labels >= 0) & (labels < len(fm.CLASSES))).all()


# --------------------------------------------------------------------------- People's Daily

_PKU_VALID = PKU_HELDOUT.read_bytes()[:3000].rpartition(b"\n")[0] + b"\n"  # 2 real paragraphs
_PKU_TOKEN = st.one_of(
    st.sampled_from(["中国/ns", "[中国/ns", "政府/n]nt", "。/w", "19980101-01-001-001/m", "[/w"]),
    st.tuples(
        nasty_text(max_size=6, surrogates=False), st.sampled_from(["n", "v", "", "1", "n]", "]nt"])
    ).map("/".join),
    nasty_text(max_size=8, surrogates=False),
)


def _check_sentences(sentences: list[pku.Sentence]) -> None:
    for s in sentences:
        assert len(s) == len(s.tags) > 0 and s.doc
        assert all(w and not any(c.isspace() for c in w) for w in s.words)
        assert all(t.isascii() and t.isalpha() for t in s.tags)


def test_the_real_pku_lines_read_back(tmp_path):
    (tmp_path / "pku.txt").write_bytes(_PKU_VALID)
    sentences = pku.read_corpus(tmp_path / "pku.txt")
    assert len(sentences) > 2 and sentences[0].words[:2] == ("迈向", "充满")
    _check_sentences(sentences)


@given(raw=broken_bytes(_PKU_VALID))
def test_pku_mutated_file_gives_sentences_or_a_clear_error(tmp_path, raw):
    path = tmp_path / "pku.txt"
    path.write_bytes(raw)
    try:
        sentences = pku.read_corpus(path)
    except AttnkitError as e:
        assert str(path) in str(e)
        return
    _check_sentences(sentences)


@given(tokens=st.lists(_PKU_TOKEN, max_size=12), sep=st.sampled_from(["  ", " ", "\t", "\u3000"]))
def test_pku_parse_line_on_random_tokens(tokens, sep):
    try:
        par = pku.parse_line(sep.join(tokens), lineno=7)
    except AttnkitError as e:
        assert str(e).startswith("line 7:")
        return
    assert len(par.words) == len(par.tags)
    assert all(0 <= a < b <= len(par.words) for a, b, _ in par.compounds)


# --------------------------------------------------------------------------- gettext .mo


_FILE_TEXT = nasty_text(max_size=20, surrogates=False)  # text a UTF-8 file can hold


def _clean(text: str) -> str:
    return " ".join(text.split())


@given(entries=st.dictionaries(_FILE_TEXT.filter(lambda s: s and "\x00" not in s), _FILE_TEXT))
def test_mo_catalogs_with_random_strings_read_back(tmp_path, entries):
    """Any msgid without NUL (NUL separates plural forms) and any msgstr: read back cleaned."""
    write_mo(tmp_path / "x.mo", list(entries.items()))
    expected = {(_clean(k.rpartition("\x04")[2]), _clean(v)) for k, v in entries.items()}
    got = list(jupyterlab.read_mo(tmp_path / "x.mo"))
    assert set(got) == {(k, v) for k, v in expected if k and v}


@given(data=st.data())
def test_mo_mutated_catalog_gives_pairs_or_a_clear_error(tmp_path, data):
    path = tmp_path / "jupyterlab.mo"
    write_mo(path, LAB)
    assert dict(jupyterlab.read_mo(path))["Save"] == "Enregistrer"
    path.write_bytes(data.draw(broken_bytes(path.read_bytes())))
    try:
        pairs = list(jupyterlab.read_mo(path))
    except AttnkitError as e:
        assert str(path) in str(e)
        return
    assert all(m and s and m == " ".join(m.split()) for m, s in pairs)


# --------------------------------------------------------------------------- manual pages

_PAGE = rb""".TH LS 1
.SH NAME
ls \- list directory contents
.SH DESCRIPTION
List \fIinformation\fR about the FILEs \(em sorted.
.TP
.BR \-a ", " \-\-all
do not ignore entries starting with .
"""
_ROFF_LINE = st.sampled_from([
    ".SH NAME", ".SH DESCRIPTION", ".SH", ".Sh DESCRIPTION", ".TH X 1", ".Dd", ".Nm ls", ".Nd",
    ".Nd lists files", ".if n \\{", ".if t .B x", ".ie \\n(.g .B y", ".el .I z", "\\}",
    ".de XX", "..", ".ig", ".TS", ".TE", ".ds x \\*x", ".ds C+ C++", ".tr \\(*Wx", ".Fl",
    ".Fl a Ar file", ".Xr ls 1", ".Op Fl v", ".Fn open path", ".St -p1003.1", ".Sm off", ".It",
    ".do B x", ".B", ".IP \\(bu", ".so man1/ls.1", "'", ".", "ls \\- list", "name - summary",
])  # fmt: skip
_ROFF_ESCAPE = st.sampled_from([
    "\\fB", "\\f(CW", "\\fR", "\\(em", "\\[u00E9]", "\\[uFFFFFF]", "\\[u110000]",
    "\\[char99999999]", "\\N'233'", "\\N'99999999'", "\\N'²'", "\\*(C+", "\\*[x]",
    "\\*x", "\\h'1i'", "\\s-1", "\\c", '\\"comment', "\\", "\\e", "\\(*W",
    "\\C'em'", "\\Z'z'", "\\{", "\\}", "\\$1", "\\'e",
])  # fmt: skip
_ROFF_TEXT_LINE = st.lists(
    st.one_of(_ROFF_ESCAPE, nasty_text(max_size=12, surrogates=False)), max_size=6
).map("".join)
_ROFF = st.tuples(
    st.sampled_from(["", ".SH NAME\n", ".SH DESCRIPTION\n", ".Dd\n.Sh DESCRIPTION\n"]),
    st.lists(st.one_of(_ROFF_LINE, _ROFF_TEXT_LINE), max_size=12).map("\n".join),
).map("".join)


def test_the_man_page_parses():
    assert manpages.parse_page(_PAGE.decode()) == (
        "list directory contents",
        "List information about the FILEs — sorted. -a, --all do not ignore entries starting "
        "with .",
    )


@given(text=st.one_of(_ROFF, mutated(_PAGE).map(lambda b: b.decode("utf-8", "replace"))))
@example(text=".SH DESCRIPTION\n\\[uFFFFFF] \\[uD800] \\[char99999999] \\N'99999999' \\N'²'")
@example(text=".ds x " + "\\*x" * 12 + "\n.SH DESCRIPTION\n\\*x")  # 12**8 interpolations
def test_man_pages_with_random_roff_parse_to_clean_text(text):
    assert isinstance(manpages.is_alias(text), bool)
    summary, document = manpages.parse_page(text)
    (summary + document).encode("utf-8")  # what build() writes: no lone surrogate
    assert summary == " ".join(summary.split())
    assert document == " ".join(document.split())
    assert len(document.split()) <= manpages.MAX_WORDS


@given(raw=st.one_of(mutated(gzip.compress(_PAGE, mtime=0)), st.binary(max_size=64)))
def test_man_pages_mutated_gzip_reads_or_is_a_clear_error(tmp_path, raw):
    folder = tmp_path / "usr/share/man/man1"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "ls.1.gz").write_bytes(raw)
    try:
        pages = list(manpages.read_pages(tmp_path, "coreutils"))
    except AttnkitError as e:
        assert "coreutils" in str(e) and "ls.1.gz" in str(e)
        return
    assert [name for name, _ in pages] == ["ls.1.gz"]
