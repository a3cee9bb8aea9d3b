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
for its ``2W`` context slots and its ``C`` candidate slots, flag ids per slot, its query, and
``(C, F)`` numeric candidate features (:data:`FEATURES`). The token under scrutiny itself (the
query, and the keep candidate) is its id and flags only, never its n-grams: with them the
model learned the training typos by heart and kept unseen ones (dev non-word accuracy 58%
against 64% without, 30,000 training sentences), and every test typo is unseen.

Notation for tensor shapes: N examples, M memory slots, L ids per bag, C candidates, F features.

Example:
    >>> from attnkit.data.correction import split_text
    >>> from attnkit.data.spell_candidates import CandidateGenerator
    >>> vocab = CorrectVocab.build({"the", "cat"}, buckets=64, ngrams=[3])
    >>> gen = CandidateGenerator({"the": 2, "cat": 1}, partners={}, limit=3)
    >>> data = Encoder(vocab, gen, window=1, candidates=3).encode([split_text("teh cat")])
    >>> data.checked, [c.word for c in data.candidates[0]], data.batch([0])["memory"].shape
    ([(0, 0)], ['teh', 'the'], torch.Size([1, 5, 26]))
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
from attnkit.data.spell_candidates import Candidate, CandidateGenerator
from attnkit.data.vocab import JsonFields
from attnkit.specials import PAD_ID, SPECIAL_TOKENS, UNK_ID

__all__ = [
    "FEATURES",
    "FLAGS",
    "IGNORE",
    "CorrectVocab",
    "Encoded",
    "Encoder",
    "LeaveOneOut",
    "Lexicon",
]

FLAGS = ("lower", "title", "upper", "mixed", "first", "unknown", "confusable", "keep",
         "partner", "dist1", "dist2", "dist3")  # fmt: skip
"""Flag ids after the words and n-gram buckets: the token's shape and role (query), a
candidate's kind and edit distance (its slot)."""
FEATURES = ("keep", "keep_unknown", "keep_title", "keep_upper", "keep_first", "partner",
            "dist1", "dist2", "log_frequency", "below_best", "unseen", "rank")  # fmt: skip
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

    def bag(self, word: str) -> list[int]:
        """The ids of a word (normalized): its own id (``<unk>`` if not a frequent word)
        and the hashed n-grams of ``<word>``, at most ``BAG`` in all."""
        ids = [self.index.get(word, UNK_ID)]
        marked = f"<{word}>"
        for n in self.ngrams:
            for i in range(len(marked) - n + 1):
                ids.append(len(self.words) + zlib.crc32(marked[i : i + n].encode()) % self.buckets)
        return ids[:BAG]


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
    slot_flags: np.ndarray  # (N, M, 2) flag ids (PAD: none)
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
        """Tensors of the examples ``idx``: ``memory (B, M, BAG + 2)``, ``query (B, BAG +
        3)``, ``features (B, C, F)``, ``mask (B, C)``, ``target (B,)``."""
        idx = np.asarray(idx, dtype=np.int64)
        memory = np.concatenate([self.table[self.memory[idx]], self.slot_flags[idx]], axis=-1)
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

    def _row(self, word: str, *, spelling: bool = True) -> int:
        """The table row of a word's bag (``spelling=False``: its id alone, no n-grams)."""
        key = word if spelling else f"\x00{word}"
        if key not in self._rows:
            self._rows[key] = len(self._bags)
            bag = self.vocab.bag(word)
            self._bags.append(bag if spelling else bag[:1])
        return self._rows[key]

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
                rows += [self._row(c.word, spelling=not c.keep) for c in options]
                rows += [0] * (C - len(options))
                flags = [[PAD_ID, PAD_ID]] * (2 * W)
                feats = np.zeros((C, F), dtype=np.float32)
                best = max(math.log1p(c.frequency) for c in options)
                for r, c in enumerate(options):
                    kind = "keep" if c.keep else "partner" if c.partner else None
                    flags.append([flag(kind) if kind else PAD_ID, flag(f"dist{min(c.distance, 3)}")
                                  if c.distance else PAD_ID])  # fmt: skip
                    feats[r] = [c.keep, c.keep and not known, c.keep and shape == "title"
                                and not first, c.keep and shape == "upper", c.keep and first,
                                c.partner, c.distance == 1, c.distance == 2,
                                math.log1p(c.frequency) / 20,
                                (best - math.log1p(c.frequency)) / 20, c.frequency == 0,
                                r / C]  # fmt: skip
                flags += [[PAD_ID, PAD_ID]] * (C - len(options))
                memory.append(rows)
                slot_flags.append(flags)
                query.append(self._row(normalize(token), spelling=False))
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
            slot_flags=np.asarray(slot_flags, dtype=np.int64).reshape(-1, M, 2),
            query=np.asarray(query, dtype=np.int64),
            query_flags=np.asarray(query_flags, dtype=np.int64).reshape(-1, 3),
            features=np.asarray(features, dtype=np.float32).reshape(-1, C, F),
            mask=np.asarray(mask, dtype=bool).reshape(-1, C),
            target=np.asarray(target, dtype=np.int64),
            checked=checked,
            candidates=cands,
        )
