"""Placeholders: numbers, names and symbols a translator never saw pass through it unchanged.

Before encoding, spans of the input the model cannot translate (numbers, symbols, URLs, words
with characters the source tokenizer cannot represent) become placeholder symbols ``⟦1⟧`` ...
``⟦8⟧`` (:func:`mask`); after decoding, each placeholder in the output is put back
(:meth:`Masked.unmask`). The model learns to copy placeholders in training, from pairs in which
the words both sides share verbatim (capitalised or with a digit: the names of
:func:`attnkit.metrics.shared_names`) were replaced by them (:func:`augment_pairs`).

A name the training sources never held ("Madrid", "Python") is masked too when the run kept the
word forms of its training sources (:data:`SOURCE_WORDS_FILE`; :func:`unseen_name`): a
capitalised word whose lower-case form is not among them.

The brackets (U+27E6 / U+27E7) occur in none of the corpora (the Bible, the JupyterLab strings,
the Debian descriptions). The tokenizers of a run trained with placeholders keep each symbol
whole (sentencepiece user-defined symbols, one word of the word tokenizer); :func:`supports`
tells such a run from an older one, which translates as before.

Example:
    >>> masked = mask("Tengo 3 gatos y 12 perros; 3 son negros.")
    >>> masked.text
    'Tengo ⟦1⟧ gatos y ⟦2⟧ perros; ⟦1⟧ son negros.'
    >>> masked.unmask("I have ⟦1⟧ cats and ⟦2⟧ dogs; ⟦1⟧ are black.")
    'I have 3 cats and 12 dogs; 3 are black.'
    >>> augment_pairs([("Y David dijo", "And David said")], 1.0, seed=0)  # first number drawn
    [('Y ⟦4⟧ dijo', 'And ⟦4⟧ said')]
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from attnkit.fileio import atomic_write
from attnkit.metrics import shared_names

if TYPE_CHECKING:
    from attnkit.data.text import Tokenizer

PLACEHOLDERS = tuple(f"⟦{k}⟧" for k in range(1, 9))
"""The symbols, in the order spans are numbered (source order)."""

PLACEHOLDER_PATTERN = r"⟦\d+⟧"
"""A regular expression matching one placeholder (the word tokenizer keeps it whole)."""

_PLACEHOLDER_RE = re.compile(PLACEHOLDER_PATTERN)
_CHUNK_RE = re.compile(r"\S+")
_LEADING = "([{«“‘¿¡\"'"  # punctuation around a span stays outside it: "(2024)." -> 2024
_TRAILING = ".,;:!?)]}»”’\"'…"
_URLISH_RE = re.compile(r"^(?:[a-z][a-z0-9+.-]*://|www\.)|\w@\w", re.IGNORECASE)
_DIGIT_GROUP_RE = re.compile(r"\d{3}")  # "912 345 678", "1 000 000": one span

SOURCE_WORDS_FILE = "tokenizer/source_words.txt"
"""Where a run trained with placeholders keeps its training sources' word forms (lower case,
one per line), relative to the run folder: what :func:`unseen_name` looks names up in."""


@dataclass(frozen=True)
class Masked:
    """A text with spans replaced by placeholders, and the spans to put back.

    Attributes:
        text: the masked text (the text itself when nothing was masked).
        spans: placeholder -> the span it stands for, e.g. ``{"⟦1⟧": "42"}``.

    Example:
        >>> Masked("uno ⟦1⟧", {"⟦1⟧": "42"}).unmask("one ⟦1⟧ ⟦2⟧")  # ⟦2⟧: made up, dropped
        'one 42'
    """

    text: str
    spans: dict[str, str]

    def unmask(self, output: str) -> str:
        """``output`` with each placeholder replaced by its span; a placeholder the input did
        not have (the model made it up) is dropped, and the spaces around it closed up."""
        made_up = [p for p in _PLACEHOLDER_RE.findall(output) if p not in self.spans]
        text = _PLACEHOLDER_RE.sub(lambda m: self.spans.get(m.group(0), ""), output)
        return " ".join(text.split()) if made_up else text

    def restore(self, piece: str) -> str:
        """A token piece as a reader should see it: a placeholder shows its span."""
        return _PLACEHOLDER_RE.sub(lambda m: self.spans.get(m.group(0), m.group(0)), piece)


def needs_placeholder(word: str, unknown: Callable[[str], bool] | None = None) -> bool:
    """Whether ``word`` should pass through as a placeholder: it has a digit or a symbol
    (``€``, ``+``, ``→``), looks like a URL or an e-mail address, or ``unknown(word)`` says
    the source tokenizer cannot represent it.

    Example:
        >>> [needs_placeholder(w) for w in ("gatos", "3,5", "10€", "www.ejemplo.es", "a@b.es")]
        [False, True, True, True, True]
    """
    return (
        any(c.isdigit() or unicodedata.category(c).startswith("S") for c in word)
        or _URLISH_RE.search(word) is not None
        or (unknown is not None and unknown(word))
    )


def unseen_name(word: str, known: Collection[str]) -> bool:
    """Whether ``word`` is capitalised and its lower-case form is not in ``known`` (the word
    forms of the training sources, :func:`word_forms`): a name the model never read, which it
    can only mangle piece by piece. A capitalised word it read in lower case ("Mañana" at the
    start of a sentence) is not one.

    Example:
        >>> [unseen_name(w, {"mañana", "david"}) for w in ("Madrid", "Mañana", "David", "gato")]
        [True, False, False, False]
    """
    return word[:1].isupper() and word.lower() not in known


def word_forms(texts: Iterable[str]) -> set[str]:
    """The lower-case words of ``texts``, split as :func:`mask` splits its input.

    Example:
        >>> sorted(word_forms(["Y dijo Dios:", "dijo él."]))
        ['dijo', 'dios', 'y', 'él']
    """
    return {text[s:e].lower() for text in texts for s, e in _words(text)}


def save_word_forms(path: Path, words: Collection[str]) -> None:
    """Write ``words`` to ``path``, sorted, one per line (atomically)."""
    atomic_write(path, "".join(w + "\n" for w in sorted(words)))


def load_word_forms(path: Path) -> frozenset[str] | None:
    """The words :func:`save_word_forms` wrote, or ``None`` when ``path`` does not exist (a run
    from before it: no name is masked)."""
    if not path.is_file():
        return None
    return frozenset(path.read_text("utf-8").split())


def _words(text: str) -> list[tuple[int, int]]:
    """``(start, end)`` of each run of non-spaces, without the punctuation around it."""
    spans = []
    for m in _CHUNK_RE.finditer(text):
        chunk = m.group(0)
        start = m.start() + len(chunk) - len(chunk.lstrip(_LEADING))
        end = start + len(text[start : m.end()].rstrip(_TRAILING))
        if end > start:
            spans.append((start, end))
    return spans


def _join_digit_groups(text: str, spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Join a span to the one before when one space apart and a group of three digits after
    a digit: a phone number or a number with spaces between thousands is one span."""
    joined: list[tuple[int, int]] = []
    for start, end in spans:
        if (
            joined
            and start == joined[-1][1] + 1
            and text[joined[-1][1]] == " "
            and text[joined[-1][1] - 1].isdigit()
            and _DIGIT_GROUP_RE.fullmatch(text[start:end])
        ):
            joined[-1] = (joined[-1][0], end)
        else:
            joined.append((start, end))
    return joined


def mask(
    text: str,
    unknown: Callable[[str], bool] | None = None,
    source_words: Collection[str] | None = None,
) -> Masked:
    """Replace the spans of ``text`` that :func:`needs_placeholder` picks by placeholders.

    The same span gets the same placeholder; they are numbered in order of appearance. A span
    beyond the eighth distinct one stays as it is (the caller's usual checks apply to it).

    Args:
        text: the input sentence.
        unknown: tells whether the source tokenizer cannot represent a word (it maps part of
            it to ``<unk>``); ``None``: only numbers, symbols and URLs are masked.
        source_words: the word forms of the training sources: a capitalised word they lack
            (:func:`unseen_name`) is masked too, wherever it stands (at a sentence's start
            it may be a verb form the corpus lacks, which the model could not translate
            either: it is copied).

    Returns:
        The masked text and its spans; ``Masked.unmask`` of the masked text gives ``text``
        (text typed like a placeholder, ``⟦1⟧``, has a digit: it is a span itself, except past
        the eighth).

    Example:
        >>> mask("Llame al 912 345 678 o a Zoë.", unknown=lambda w: "ë" in w).spans
        {'⟦1⟧': '912 345 678', '⟦2⟧': 'Zoë'}
    """
    picked = [
        (s, e)
        for s, e in _words(text)
        if needs_placeholder(text[s:e], unknown)
        or (source_words is not None and unseen_name(text[s:e], source_words))
    ]
    numbers: dict[str, str] = {}  # span -> its placeholder
    parts, done = [], 0
    for start, end in _join_digit_groups(text, picked):
        span = text[start:end]
        if span not in numbers:
            if len(numbers) == len(PLACEHOLDERS):
                continue
            numbers[span] = PLACEHOLDERS[len(numbers)]
        parts += [text[done:start], numbers[span]]
        done = end
    parts.append(text[done:])
    return Masked("".join(parts), {p: span for span, p in numbers.items()})


def supports(tok: Tokenizer) -> bool:
    """Whether ``tok`` keeps every placeholder whole (it was built for a run that uses them).

    Example:
        >>> from attnkit.data.text import WordTokenizer
        >>> supports(WordTokenizer.build(["a b"], symbols=PLACEHOLDERS))
        True
        >>> supports(WordTokenizer.build(["a b"]))  # a run trained without placeholders
        False
    """
    return all(p in {tok.id_to_piece(i) for i in tok.encode(p)} for p in PLACEHOLDERS)


def _draws(pair: tuple[str, str], seed: int) -> tuple[float, int]:
    """A uniform number in [0, 1) and an integer from a hash of ``seed`` and ``pair``
    (order-free: the same pair gets the same draws wherever it is)."""
    digest = hashlib.sha256(f"{seed}\x00{pair[0]}\x00{pair[1]}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64, int.from_bytes(digest[8:16], "big")


def _replace_names(pair: tuple[str, str], names: set[str], draw: int) -> tuple[str, str]:
    """Both sides of ``pair`` with each of ``names`` (whole words) replaced by a placeholder,
    numbered consecutively in order of appearance in the source from a first number that
    ``draw`` picks (so that every placeholder is trained, not only the first ones: a Bible
    verse rarely has more than two names); names past the eighth stay."""
    alternatives = sorted(names, key=lambda n: (-len(n), n))  # "Daniel" before "Dan"
    pattern = re.compile(rf"(?<!\w)(?:{'|'.join(map(re.escape, alternatives))})(?!\w)")
    order = dict.fromkeys(m.group(0) for m in pattern.finditer(pair[0]))
    first = draw % (len(PLACEHOLDERS) - min(len(order), len(PLACEHOLDERS)) + 1)
    number = dict(zip(order, PLACEHOLDERS[first:], strict=False))
    src, tgt = (pattern.sub(lambda m: number.get(m.group(0), m.group(0)), t) for t in pair)
    return src, tgt


def augment_pairs(
    pairs: Sequence[tuple[str, str]], rate: float, *, seed: int
) -> list[tuple[str, str]]:
    """Teach copying: in ``rate`` of the pairs whose sides share names (words found verbatim on
    both sides, capitalised or with a digit), replace those names by placeholders on both sides.

    Which pairs is decided by a hash of ``seed`` and the pair, so the same corpus and seed give
    the same pairs whatever their order. The same name gets the same placeholder in a pair;
    the numbers are consecutive in source order from a random first one.

    Args:
        pairs: ``(source, target)`` training pairs.
        rate: the share of the pairs with names that are changed, 0 (none) to 1 (all).
        seed: changes which pairs.

    Returns:
        The pairs, in the same order, some with placeholders.

    Raises:
        ValueError: ``rate`` outside [0, 1].
    """
    if not 0 <= rate <= 1:
        raise ValueError(f"the placeholder rate must be between 0 and 1, got {rate}")
    out = []
    for pair in pairs:
        names = shared_names(*pair) if rate else set()
        coin, draw = _draws(pair, seed) if names else (1.0, 0)
        out.append(_replace_names(pair, names, draw) if coin < rate else pair)
    return out


__all__ = [
    "PLACEHOLDERS",
    "PLACEHOLDER_PATTERN",
    "SOURCE_WORDS_FILE",
    "Masked",
    "augment_pairs",
    "load_word_forms",
    "mask",
    "needs_placeholder",
    "save_word_forms",
    "supports",
    "unseen_name",
    "word_forms",
]
