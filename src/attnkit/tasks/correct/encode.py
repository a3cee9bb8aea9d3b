"""Sentences -> what :class:`~attnkit.tasks.correct.model.MemoryCorrector` reads: one example
per token under scrutiny.

A token is checked when it is a plain word (:func:`~attnkit.data.correction.checkable`) that
the lexicon does not know (a possible non-word) or that belongs to a confusion set (a possible
real-word error); every other token is kept as it is. Training sentences are read *leave one
out*: a training word that only its own sentence holds (and ``wamerican`` does not) counts as
unknown there, the way an unseen name does at test time, so the model learns when to keep an
unknown word. Candidates are ranked, and described to the model, by their frequency in a
general English list (``word-frequencies``), the same for training and held-out words.

An example holds rows of a table of word bags (the word's id, its hashed character n-grams)
for its ``2W`` context slots and its ``C`` candidate slots, flag ids per candidate slot, its
query, and ``(C, F)`` numeric candidate features (:data:`FEATURES`). The token under scrutiny
itself (the query, and the keep candidate) is its id and flags only, never its n-grams: with
them the model learned the training typos by heart and kept unseen ones (dev non-word accuracy
58% against 64% without, 30,000 training sentences), and every test typo is unseen. For the
same reason a correction of an unknown word is its id (frequent words only) and its ending
(``"ending"`` in :meth:`CorrectVocab.bag`: the grammar the context can check, not which word it
is: every test correction is a word no training sentence holds), and the flags the baselines
rank by: edit distance, rank, frequency decade, and how the typo would have been made
(:func:`~attnkit.data.spell_candidates.edit_shapes`), so the hops weigh them with the context.
On 26,000 training sentences (2 epochs, all of dev) the features and the ending took dev
non-word accuracy from 76.9% (all n-grams, distance and frequency only) to 86.9%.

Notation for tensor shapes: N examples, M memory slots, L ids per bag, C candidates, F features.

Example:
    >>> from attnkit.data.correction import split_text
    >>> from attnkit.data.spell_candidates import CandidateGenerator
    >>> vocab = CorrectVocab.build({"the", "cat"}, buckets=64, ngrams=[3])
    >>> gen = CandidateGenerator({"the": 2, "cat": 1}, partners={}, limit=3)
    >>> data = Encoder(vocab, gen, window=1, candidates=3).encode([split_text("teh cat")])
    >>> data.checked, [c.word for c in data.candidates[0]], data.batch([0])["memory"].shape
    ([(0, 0)], ['teh', 'the'], torch.Size([1, 5, 37]))
"""

from __future__ import annotations

import math
import zlib
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import torch

from attnkit.data.correction import checkable, normalize
from attnkit.data.spell_candidates import (
    EDIT_SHAPES,
    Candidate,
    CandidateGenerator,
    edit_shapes,
)
from attnkit.data.vocab import JsonFields
from attnkit.specials import PAD_ID, SPECIAL_TOKENS, UNK_ID

__all__ = [
    "FEATURES",
    "FLAGS",
    "IGNORE",
    "SLOT_FLAGS",
    "CorrectVocab",
    "Encoded",
    "Encoder",
    "LeaveOneOut",
    "Lexicon",
]

FREQUENCY_BINS = 10  # candidate frequency flags: 0, then one per power of ten (capped)
FLAGS = ("lower", "title", "upper", "mixed", "first", "unknown", "confusable", "keep",
         "partner", "dist1", "dist2", "dist3", "rank1",
         *(f"freq{b}" for b in range(FREQUENCY_BINS)),
         *(f"edit_{e}" for e in EDIT_SHAPES))  # fmt: skip
"""Flag ids after the words and n-gram buckets: the token's shape and role (query), a
candidate's kind, edit distance, rank, frequency and edit shapes (its slot)."""
SLOT_FLAGS = 4 + len(EDIT_SHAPES)  # flag ids per slot: kind, distance, rank, frequency, shapes
FEATURES = ("keep", "keep_unknown", "keep_title", "keep_upper", "keep_first", "partner",
            "dist1", "dist2", "log_frequency", "below_best", "unseen", "rank",
            *(f"edit_{e}" for e in EDIT_SHAPES))  # fmt: skip
"""Numeric features of a candidate (the linear term of the logits)."""
IGNORE = -100  # target of a token whose correction is not among its candidates
BAG = 24  # ids per word bag: the word's id and up to 23 n-grams


@dataclass
class CorrectVocab(JsonFields):
    """Word ids (specials, then the frequent words), then ``buckets`` hashed character n-gram
    ids, then :data:`FLAGS`; ``bag(word)`` is what a slot holds for a word."""

    words: list[str]
    buckets: int
    ngrams: list[int]

    def __post_init__(self) -> None:
        self.index = {w: i for i, w in enumerate(self.words)}  # not a field: never saved

    @classmethod
    def build(cls, words: Iterable[str], *, buckets: int, ngrams: Sequence[int]) -> CorrectVocab:
        """Ids for ``words`` (normalized: :attr:`~attnkit.data.correction.Corpus.frequent`)."""
        return cls([*SPECIAL_TOKENS, *sorted(set(words) - set(SPECIAL_TOKENS))], buckets,
                   list(ngrams))  # fmt: skip

    @property
    def size(self) -> int:
        """Ids in all: words, n-gram buckets and flags."""
        return len(self.words) + self.buckets + len(FLAGS)

    def flag(self, name: str) -> int:
        """The id of a flag of :data:`FLAGS`."""
        return len(self.words) + self.buckets + FLAGS.index(name)

    def bag(self, word: str, spelling: str = "all") -> list[int]:
        """The ids of a word (normalized): its own id (``<unk>`` if not a frequent word) and,
        by ``spelling``, the hashed n-grams of ``<word>`` (``"all"``), its endings ``d>`` to
        ``word>`` of 2 to 5 characters (``"ending"``: the grammar of a word, not which word
        it is) or nothing (``"none"``); at most ``BAG`` ids in all."""
        marked = f"<{word}>"
        if spelling == "all":
            grams = [marked[i : i + n] for n in self.ngrams for i in range(len(marked) - n + 1)]
        elif spelling == "ending":
            grams = [marked[-n:] for n in range(2, min(6, len(marked)))]
        else:
            grams = []
        hashed = [len(self.words) + zlib.crc32(g.encode()) % self.buckets for g in grams]
        return [self.index.get(word, UNK_ID), *hashed][:BAG]


@dataclass
class Lexicon(JsonFields):
    """The known words and their frequency in ``word-frequencies`` (0 if it lacks them)."""

    counts: dict[str, int]


@dataclass
class LeaveOneOut:
    """How training sentences are read: a word is known if ``wamerican`` lists it (``listed``)
    or other training sentences hold it (``counts``: occurrences in all of them)."""

    counts: Mapping[str, int]
    listed: set[str]

    def known(self, word: str, own: int) -> bool:
        """Whether ``word`` (normalized), seen ``own`` times in its sentence, is known."""
        return word in self.listed or self.counts.get(word, 0) > own


def _shape(token: str) -> str:
    if token.islower():
        return "lower"
    if len(token) > 1 and token.isupper():
        return "upper"
    if token[:1].isupper() and (len(token) == 1 or token[1:].islower()):
        return "title"
    return "mixed"


@dataclass
class Encoded:
    """Encoded tokens under scrutiny (see the module docstring); ``checked[n]`` is example
    ``n``'s ``(sentence, token)`` and ``candidates[n]`` its candidates."""

    table: np.ndarray  # (U, BAG) word bags; row 0 is empty
    memory: np.ndarray  # (N, M) rows of the table
    slot_flags: np.ndarray  # (N, C, SLOT_FLAGS) flag ids of the candidate slots (PAD: none)
    query: np.ndarray  # (N,) row of the token
    query_flags: np.ndarray  # (N, 3)
    features: np.ndarray  # (N, C, F)
    mask: np.ndarray  # (N, C) real candidates
    target: np.ndarray  # (N,) the right candidate, IGNORE if none
    checked: list[tuple[int, int]]
    candidates: list[list[Candidate]]

    def __len__(self) -> int:
        return len(self.checked)

    def batch(self, idx: Sequence[int] | np.ndarray) -> dict[str, torch.Tensor]:
        """Tensors of the examples ``idx``: ``memory (B, M, BAG + SLOT_FLAGS)``, ``query (B, BAG +
        3)``, ``features (B, C, F)``, ``mask (B, C)``, ``target (B,)``."""
        idx = np.asarray(idx, dtype=np.int64)
        flags = np.zeros((len(idx), self.memory.shape[1], SLOT_FLAGS), dtype=np.int64)
        flags[:, -self.slot_flags.shape[1] :] = self.slot_flags[idx]  # context slots: none
        memory = np.concatenate([self.table[self.memory[idx]], flags], axis=-1)
        query = np.concatenate([self.table[self.query[idx]], self.query_flags[idx]], axis=-1)
        return {
            "memory": torch.from_numpy(memory),
            "query": torch.from_numpy(query),
            "features": torch.from_numpy(self.features[idx]),
            "mask": torch.from_numpy(self.mask[idx]),
            "target": torch.from_numpy(self.target[idx]),
        }


class Encoder:
    """Encodes sentences for a vocabulary and a candidate generator.

    Args:
        vocab: the word / n-gram / flag ids.
        generator: the lexicon and the candidates of any token.
        window: ``W`` context tokens on each side.
        candidates: ``C`` candidates per token (``generator.limit`` at most).
    """

    def __init__(
        self, vocab: CorrectVocab, generator: CandidateGenerator, *, window: int, candidates: int
    ) -> None:
        self.vocab, self.generator = vocab, generator
        self.window, self.candidates = window, candidates
        self._rows: dict[str, int] = {"": 0}
        self._bags: list[list[int]] = [[]]

    def _row(self, word: str, spelling: str = "all") -> int:
        """The table row of a word's bag (:meth:`CorrectVocab.bag`)."""
        key = f"{spelling}\x00{word}"
        if key not in self._rows:
            self._rows[key] = len(self._bags)
            self._bags.append(self.vocab.bag(word, spelling))
        return self._rows[key]

    def _describe(
        self, token: str, options: Sequence[Candidate], known: bool, shape: str, first: bool
    ) -> tuple[list[list[int]], np.ndarray]:
        """Flag ids ``(C, SLOT_FLAGS)`` and features ``(C, F)`` of a token's candidates."""
        flag, key = self.vocab.flag, normalize(token)
        flags = [[PAD_ID] * SLOT_FLAGS for _ in range(self.candidates)]
        feats = np.zeros((self.candidates, len(FEATURES)), dtype=np.float32)
        best = max(math.log1p(c.frequency) for c in options)
        for r, c in enumerate(options):
            kind = "keep" if c.keep else "partner" if c.partner else None
            shapes = edit_shapes(key, c.word) if not (c.keep or c.partner) else set()
            decade = int(math.log10(c.frequency)) if c.frequency else 0
            magnitude = min(FREQUENCY_BINS - 1, max(1, decade - 1)) if c.frequency else 0
            named = [kind, f"dist{min(c.distance, 3)}" if c.distance else None]
            if kind is None:  # a correction of an unknown word: how likely, how slipped
                named += ["rank1" if r == 1 else None, f"freq{magnitude}",
                          *(f"edit_{e}" for e in EDIT_SHAPES if e in shapes)]  # fmt: skip
            ids = [flag(n) for n in named if n]
            flags[r][: len(ids)] = ids
            feats[r] = [c.keep, c.keep and not known, c.keep and shape == "title" and not first,
                        c.keep and shape == "upper", c.keep and first, c.partner,
                        c.distance == 1, c.distance == 2, math.log1p(c.frequency) / 20,
                        (best - math.log1p(c.frequency)) / 20, c.frequency == 0,
                        r / self.candidates, *(e in shapes for e in EDIT_SHAPES)]  # fmt: skip
        return flags, feats

    def check(
        self,
        tokens: Sequence[str],
        gaps: Sequence[str],
        leave_one_out: LeaveOneOut | None = None,
    ) -> list[tuple[int, bool]]:
        """``(position, known)`` of the tokens under scrutiny in one sentence."""
        words = [i for i in range(len(tokens)) if checkable(tokens, gaps, i)]
        own = Counter(normalize(tokens[i]) for i in words)
        out = []
        for i in words:
            key = normalize(tokens[i])
            known = key in self.generator.lexicon and (
                leave_one_out is None or leave_one_out.known(key, own[key])
            )
            if not known or key in self.generator.partners:
                out.append((i, known))
        return out

    def encode(
        self,
        sentences: Iterable[tuple[Sequence[str], Sequence[str]]],
        targets: Iterable[Sequence[str]] | None = None,
        *,
        leave_one_out: LeaveOneOut | None = None,
    ) -> Encoded:
        """Encode every token under scrutiny of ``sentences`` (``(tokens, gaps)`` each).

        Args:
            targets: the clean tokens of each sentence (training and evaluation).
            leave_one_out: read training sentences leave one out.
        """
        W, C, F = self.window, self.candidates, len(FEATURES)
        target_iter = iter(targets) if targets is not None else None
        memory, slot_flags, query, query_flags = [], [], [], []
        features, mask, target, checked, cands = [], [], [], [], []
        flag = self.vocab.flag
        for s, (tokens, gaps) in enumerate(sentences):
            clean = next(target_iter) if target_iter is not None else None
            first_word = next((i for i, t in enumerate(tokens) if t[:1].isalpha()), -1)
            for i, known in self.check(tokens, gaps, leave_one_out):
                token = tokens[i]
                shape, first = _shape(token), i == first_word
                options = self.generator.candidates(token, known=known)[:C]
                rows = [self._row(normalize(tokens[j])) if 0 <= j < len(tokens) else 0
                        for j in (*range(i - W, i), *range(i + 1, i + W + 1))]  # fmt: skip
                rows += [self._row(c.word, "none" if c.keep else "all" if c.partner
                                   else "ending") for c in options]  # fmt: skip
                rows += [0] * (C - len(options))
                flags, feats = self._describe(token, options, known, shape, first)
                memory.append(rows)
                slot_flags.append(flags)
                query.append(self._row(normalize(token), "none"))
                query_flags.append([flag(shape), flag("first") if first else PAD_ID,
                                    flag("confusable" if known else "unknown")])  # fmt: skip
                features.append(feats)
                mask.append([r < len(options) for r in range(C)])
                want = normalize(clean[i]) if clean is not None else None
                words = [c.word for c in options]
                target.append(words.index(want) if want in words else IGNORE)
                checked.append((s, i))
                cands.append(options)
        table = np.zeros((len(self._bags), BAG), dtype=np.int64)
        for r, bag in enumerate(self._bags):
            table[r, : len(bag)] = bag
        M = 2 * W + C
        return Encoded(
            table=table,
            memory=np.asarray(memory, dtype=np.int64).reshape(-1, M),
            slot_flags=np.asarray(slot_flags, dtype=np.int32).reshape(-1, C, SLOT_FLAGS),
            query=np.asarray(query, dtype=np.int64),
            query_flags=np.asarray(query_flags, dtype=np.int64).reshape(-1, 3),
            features=np.asarray(features, dtype=np.float32).reshape(-1, C, F),
            mask=np.asarray(mask, dtype=bool).reshape(-1, C),
            target=np.asarray(target, dtype=np.int64),
            checked=checked,
            candidates=cands,
        )
