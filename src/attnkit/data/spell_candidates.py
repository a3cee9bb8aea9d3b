"""Correction candidates: words within edit distance 2 of a token, and confusion partners.

:class:`SpellIndex` finds every word of a list within (optimal-string-alignment) edit distance
``max_distance`` of a token with a deletion index, the idea of Wolf Garbe's SymSpell: two
strings within distance ``d`` reach a common string by deleting at most ``d`` characters from
each, so the index maps each string obtained by deleting up to ``d`` characters from a word's
first ``prefix`` characters to the word, and a lookup only verifies the words that share one of
the token's deletions. Keys are 64-bit hashes in one sorted numpy array (a few bytes per
entry), and every hit is checked with :func:`edit_distance`, so a hash collision costs time,
never a wrong answer.

:class:`CandidateGenerator` turns that into what a corrector scores: the token itself first
(``keep``), then for a confusion-set word its partners, and for an unknown word the words of
the lexicon within distance 2 ranked by (distance, corpus frequency), ``limit`` in all.

Example:
    >>> gen = CandidateGenerator({"the": 50, "then": 9, "than": 7, "she": 20},
    ...                          partners={"then": ("than",)}, limit=3)
    >>> [c.word for c in gen.candidates("teh")]
    ['teh', 'the', 'she']
    >>> [(c.word, c.partner) for c in gen.candidates("then")]
    [('then', False), ('than', True)]
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

__all__ = [
    "EDIT_SHAPES",
    "Candidate",
    "CandidateGenerator",
    "SpellIndex",
    "deletes",
    "edit_distance",
    "edit_shapes",
]

_MASK = (1 << 63) - 1
_KEYBOARD = ("qwertyuiop", "asdfghjkl", "zxcvbnm")
_KEY_AT = {k: (r, c) for r, row in enumerate(_KEYBOARD) for c, k in enumerate(row)}
_VOWELS = set("aeiouy")
EDIT_SHAPES = ("longer", "shorter", "transposed", "adjacent_key", "vowel", "doubling",
               "consonants", "anagram", "first")  # fmt: skip
"""What :func:`edit_shapes` says of a correction: the kind of slip that would have made the
typo from it (the same for any word, so a corrector can learn how typos are made)."""


def edit_distance(a: str, b: str, limit: int | None = None) -> int:
    """Optimal-string-alignment distance (insertion, deletion, substitution, adjacent
    transposition, each 1); with ``limit``, any distance above it is reported as ``limit + 1``
    (and only the band of the table within ``limit`` of the diagonal is filled).

    Example:
        >>> edit_distance("recieve", "receive"), edit_distance("teh", "the", limit=0)
        (1, 1)
    """
    n = len(b)
    band = n + len(a) if limit is None else limit
    if abs(len(a) - n) > band:
        return band + 1
    big = band + 1
    prev2: list[int] = []
    prev = [j if j <= band else big for j in range(n + 1)]
    for i in range(1, len(a) + 1):
        lo, hi = max(1, i - band), min(n, i + band)
        cur = [big] * (n + 1)
        cur[0] = i if i <= band else big
        ai = a[i - 1]
        for j in range(lo, hi + 1):
            d = prev[j - 1] + (ai != b[j - 1])
            if prev[j] + 1 < d:
                d = prev[j] + 1
            if cur[j - 1] + 1 < d:
                d = cur[j - 1] + 1
            if i > 1 and j > 1 and ai == b[j - 2] and a[i - 2] == b[j - 1] and prev2[j - 2] + 1 < d:
                d = prev2[j - 2] + 1
            cur[j] = d
        if limit is not None and min(cur[lo - 1 : hi + 1]) > limit:
            return big
        prev2, prev = prev, cur
    return min(prev[n], big)


def _adjacent_keys(a: str, b: str) -> bool:
    """Whether two letters are neighbours on a QWERTY keyboard (rows staggered right)."""
    if a not in _KEY_AT or b not in _KEY_AT:
        return False
    (ra, ca), (rb, cb) = _KEY_AT[a], _KEY_AT[b]
    if ra == rb:
        return abs(ca - cb) == 1
    if abs(ra - rb) != 1:
        return False
    upper, lower = (ca, cb) if ra < rb else (cb, ca)  # the key on the upper row, the lower
    return lower in (upper - 1, upper)


def _squeeze(word: str) -> str:
    """``word`` with every run of a repeated letter written once."""
    return "".join(c for i, c in enumerate(word) if i == 0 or word[i - 1] != c)


def edit_shapes(typo: str, word: str) -> set[str]:
    """The :data:`EDIT_SHAPES` that describe how ``typo`` differs from the correction ``word``:
    ``longer`` / ``shorter`` (the word has one letter more / fewer: a letter dropped / added),
    ``transposed`` (two neighbours swapped), ``adjacent_key`` / ``vowel`` (one letter for a
    keyboard neighbour / a vowel for a vowel), ``doubling`` (a letter doubled or undoubled),
    ``consonants`` (same consonants in order: a vowel slip), ``anagram`` (same letters),
    ``first`` (same first letter).

    Example:
        >>> sorted(edit_shapes("recieve", "receive"))
        ['anagram', 'consonants', 'first', 'transposed', 'vowel']
        >>> sorted(edit_shapes("adress", "address"))
        ['doubling', 'first', 'longer']
    """
    out = set()
    if len(word) == len(typo) + 1:
        out.add("longer")
    elif len(word) == len(typo) - 1:
        out.add("shorter")
    elif len(word) == len(typo):
        diff = [i for i, (a, b) in enumerate(zip(typo, word, strict=True)) if a != b]
        if (
            len(diff) == 2
            and diff[1] == diff[0] + 1
            and typo[diff[0]] == word[diff[1]]
            and (typo[diff[1]] == word[diff[0]])
        ):
            out.add("transposed")
        if len(diff) == 1 and _adjacent_keys(typo[diff[0]], word[diff[0]]):
            out.add("adjacent_key")
        if diff and all(typo[i] in _VOWELS and word[i] in _VOWELS for i in diff):
            out.add("vowel")
    if typo != word and _squeeze(typo) == _squeeze(word):
        out.add("doubling")
    if [c for c in typo if c not in _VOWELS] == [c for c in word if c not in _VOWELS]:
        out.add("consonants")
    if sorted(typo) == sorted(word):
        out.add("anagram")
    if typo[:1] == word[:1]:
        out.add("first")
    return out


def deletes(word: str, max_distance: int) -> set[str]:
    """``word`` and every string made from it by deleting up to ``max_distance`` characters.

    Example:
        >>> sorted(deletes("abc", 1))
        ['ab', 'abc', 'ac', 'bc']
    """
    out, frontier = {word}, {word}
    for _ in range(max_distance):
        frontier = {w[:i] + w[i + 1 :] for w in frontier for i in range(len(w))} - out
        out |= frontier
    return out


class SpellIndex:
    """The words of a list within edit distance ``max_distance`` of any token.

    Args:
        words: ``{word: frequency}`` (frequency ranks words at equal distance).
        max_distance: the largest edit distance looked up (2 as in SymSpell's default).
        prefix: only the first ``prefix`` characters of a word are indexed (SymSpell's
            prefix length: fewer keys; hits are verified on the whole word).

    Example:
        >>> SpellIndex({"receive": 5, "deceive": 9, "recipe": 1, "review": 3}).lookup("recieve")
        [('receive', 1), ('deceive', 2), ('recipe', 2)]
    """

    def __init__(self, words: Mapping[str, int], *, max_distance: int = 2, prefix: int = 7):
        if max_distance < 0 or prefix <= max_distance:
            raise ValueError(
                f"need 0 <= max_distance < prefix, got max_distance={max_distance}, prefix={prefix}"
            )
        self.max_distance, self.prefix = max_distance, prefix
        self.words = sorted(words)
        self.frequency = [int(words[w]) for w in self.words]
        self._lengths = np.fromiter(map(len, self.words), np.int32, len(self.words))
        keys, ids = [], []
        for i, word in enumerate(self.words):
            for d in deletes(word[:prefix], max_distance):
                keys.append(hash(d) & _MASK)
                ids.append(i)
        key_array = np.asarray(keys, dtype=np.int64)
        order = np.argsort(key_array, kind="stable")
        self._keys = key_array[order]  # (N,) sorted hashes of the deletions
        self._ids = np.asarray(ids, dtype=np.int32)[order]  # (N,) the word of each

    def __len__(self) -> int:
        return len(self.words)

    def _hits(self, token: str, max_distance: int) -> np.ndarray:
        """Ids of the words that share a deletion with ``token`` (a superset of the answer)."""
        probe = np.fromiter(
            (hash(d) & _MASK for d in deletes(token[: self.prefix], max_distance)), np.int64
        )
        lo = np.searchsorted(self._keys, probe, side="left")
        hi = np.searchsorted(self._keys, probe, side="right")
        if not (hi > lo).any():
            return np.zeros(0, dtype=np.int32)
        return np.unique(np.concatenate([self._ids[a:b] for a, b in zip(lo, hi, strict=True)]))

    def lookup(self, token: str, *, max_distance: int | None = None) -> list[tuple[str, int]]:
        """Every word within ``max_distance`` (default: the index's) of ``token``, as ``(word,
        distance)`` ranked by distance, then frequency (higher first), then the word."""
        d = self.max_distance if max_distance is None else min(max_distance, self.max_distance)
        hits = self._hits(token, d)
        hits = hits[np.abs(self._lengths[hits] - len(token)) <= d]  # a cheap bound first
        found = []
        for i in hits.tolist():
            word = self.words[i]
            dist = edit_distance(token, word, limit=d)
            if dist <= d:
                found.append((dist, -self.frequency[i], word))
        return [(w, dist) for dist, _, w in sorted(found)]


@dataclass(frozen=True)
class Candidate:
    """A correction candidate of a token: the word (lower case), its edit distance, its corpus
    frequency, and whether it is the token itself (``keep``) or a confusion partner."""

    word: str
    distance: int
    frequency: int
    keep: bool = False
    partner: bool = False


class CandidateGenerator:
    """What a corrector chooses from, for any token.

    Args:
        lexicon: ``{word: corpus frequency}``: the known words (lower case).
        partners: ``{word: its confusion partners}``.
        limit: candidates per token, ``keep`` included.
        max_distance: edit distance of the candidates of unknown words.

    Example:
        >>> gen = CandidateGenerator({"house": 3}, partners={}, limit=4)
        >>> gen.known("House"), [c.word for c in gen.candidates("hosue")]
        (True, ['hosue', 'house'])
    """

    def __init__(
        self,
        lexicon: Mapping[str, int],
        *,
        partners: Mapping[str, Sequence[str]],
        limit: int = 8,
        max_distance: int = 2,
    ) -> None:
        if limit < 2:
            raise ValueError(f"limit must be >= 2 (keep and one correction), got {limit}")
        self.lexicon, self.partners, self.limit = lexicon, partners, limit
        self.index = SpellIndex(lexicon, max_distance=max_distance)
        self._cache: dict[tuple[str, bool], list[Candidate]] = {}

    def known(self, token: str) -> bool:
        """Whether ``token`` (any case) is a word of the lexicon."""
        return token.lower().replace("’", "'") in self.lexicon

    def candidates(self, token: str, *, known: bool | None = None) -> list[Candidate]:
        """``keep`` (the token, lower case) first, then its confusion partners if it has any,
        else, for an unknown word, the lexicon's other words within edit distance (nothing
        more for a known word without partners).

        Args:
            known: treat the token as known or unknown (default: whether the lexicon has it;
                training passes ``False`` for a word that only its own sentence holds).
        """
        key = token.lower().replace("’", "'")
        known = key in self.lexicon if known is None else known
        if (key, known) not in self._cache:
            keep = Candidate(key, 0, self.lexicon.get(key, 0), keep=True)
            if key in self.partners:
                rest = [Candidate(p, edit_distance(key, p), self.lexicon.get(p, 0), partner=True)
                        for p in self.partners[key]]  # fmt: skip
            elif known:
                rest = []
            else:
                rest = [Candidate(w, d, self.lexicon[w])
                        for w, d in self.index.lookup(key) if w != key]  # fmt: skip
            self._cache[key, known] = [keep, *rest][: self.limit]
        return self._cache[key, known]
