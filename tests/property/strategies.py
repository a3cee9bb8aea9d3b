"""Strategies shared by the property tests: mutations of valid bytes, and awkward text.

Example:
    >>> from hypothesis import find
    >>> len(find(mutated(b"abcdef"), lambda b: len(b) < 6)) < 6  # e.g. a truncation
    True
"""

from __future__ import annotations

from hypothesis import strategies as st

# Values that break readers more often than random ones: zero, all ones, sign bits, 2**31 - 1.
_INTERESTING = (b"\x00", b"\xff", b"\x7f", b"\x80", b"\x00" * 4, b"\xff" * 4, b"\xff\xff\xff\x7f")

# Text a user can paste: control characters, BOMs, direction marks, combining marks,
# full-width forms, emoji, CJK, RTL and private-use characters, lone surrogates (valid in JSON
# as "\ud800" escapes) and things that look like markup or format strings.
NASTY_STRINGS = (
    "",
    " ",
    "\t\n\r\x0b\x0c",
    "\x00",
    "\x00abc\x00",
    "\x1b[31mred\x1b[0m",
    "\ufeff",
    "\u202eevil\u202c",
    "\u200b\u200c\u200d",
    "a\u0301\u0301\u0301",
    "ＡＢＣ１２３，。",
    "中国政府好。",
    "\U0001f600\U0001f4a9",
    "مرحبا بالعالم",
    "\ue000\uf8ff",
    "\ud800",
    "\udfff x \ud800",
    "<script>alert(1)</script>",
    "%s %n %1 {0} {name}",
    "\\",
    "null",
    "NaN",
    "-" * 50,
    "\u2028\u2029\x85",
)

# Any code point, lone surrogates included.
ANY_CHAR = st.characters(codec=None, exclude_categories=())


def _encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def nasty_text(*, max_size: int = 200, surrogates: bool = True) -> st.SearchStrategy[str]:
    """Short text that is hard on tokenizers and parsers (see :data:`NASTY_STRINGS`); without
    ``surrogates`` it is text a UTF-8 file can hold."""
    chars = ANY_CHAR if surrogates else st.characters(codec="utf-8")
    strings = [s for s in NASTY_STRINGS if surrogates or _encodable(s)]
    pieces = st.one_of(st.sampled_from(strings), st.text(chars, max_size=20))
    return st.one_of(
        st.text(max_size=max_size),
        st.text(chars, max_size=max_size),
        st.lists(pieces, max_size=8).map("".join),
    )


def _position(draw, size: int) -> int:
    """Where to edit: anywhere, but often in the first 64 bytes (where headers are)."""
    return draw(st.one_of(st.integers(0, min(size, 64)), st.integers(0, size)))


@st.composite
def mutated(draw, valid: bytes, *, max_edits: int = 3) -> bytes:
    """``valid`` after 1 to ``max_edits`` edits: truncate, flip bits, insert garbage, delete a
    span, duplicate a span, or overwrite with an interesting value (0, 0xff, sign bits)."""
    data = bytearray(valid)
    for _ in range(draw(st.integers(1, max_edits))):
        kind = draw(st.sampled_from(("truncate", "flip", "insert", "delete", "dup", "overwrite")))
        pos = _position(draw, len(data))
        if kind == "truncate":
            del data[pos:]
        elif kind == "flip" and pos < len(data):
            data[pos] ^= draw(st.integers(1, 255))
        elif kind == "insert":
            data[pos:pos] = draw(st.binary(min_size=1, max_size=16))
        elif kind == "delete":
            del data[pos : pos + draw(st.integers(1, 16))]
        elif kind == "dup":
            data[pos:pos] = data[pos : pos + draw(st.integers(1, 16))]
        elif kind == "overwrite":
            value = draw(st.sampled_from(_INTERESTING))
            data[pos : pos + len(value)] = value
    return bytes(data)


def broken_bytes(valid: bytes) -> st.SearchStrategy[bytes]:
    """Mutations of ``valid`` (mostly) and random bytes (sometimes)."""
    return st.one_of(mutated(valid), st.binary(max_size=256))


__all__ = ["ANY_CHAR", "NASTY_STRINGS", "broken_bytes", "mutated", "nasty_text"]
