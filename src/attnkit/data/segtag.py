"""Raw Chinese text tagged the PKU way: each character labelled with its place in a word and
the word's tag (``B-n I-n E-n``, ``S-v``), so segmentation and tagging are one sequence task.

A character's features are the character and the two bigrams it forms with its neighbours,
all looked up in their :func:`attnkit.data.pku.normalize` (NFKC) form: ``２０２４`` and ``2024``
are the same characters. Decoding labels back to words is forgiving (an ``I`` or ``E`` with no
open word starts one), so any label sequence gives words.

Notation for tensor shapes: L characters, T labels.

Example:
    >>> from attnkit.data.pku import Sentence
    >>> s = Sentence(("北京", "欢迎", "你"), ("ns", "v", "r"), "d")
    >>> chars, labels = char_labels(s)
    >>> labels
    ['B-ns', 'E-ns', 'B-v', 'E-v', 'S-r']
    >>> spans(labels)
    [(0, 2, 'ns'), (2, 4, 'v'), (4, 5, 'r')]
    >>> words_and_tags("北京欢迎你", labels)
    (['北京', '欢迎', '你'], ['ns', 'v', 'r'])
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

import torch

from attnkit.data import pku
from attnkit.data.tagging import batches, collate, load_splits
from attnkit.data.vocab import JsonFields
from attnkit.specials import SPECIAL_TOKENS, UNK_ID

VOCAB_FILE = "segtag_vocab.json"
EDGE = "<e>"  # the neighbour of the first and last character in a bigram


@dataclass
class SegTagDataConfig:
    """Corpus, vocabularies and batching of the character-level tagger."""

    dataset: str = "pku-1998"  # registry name of the corpus
    min_char_count: int = 1  # rarer training characters map to UNK
    min_bigram_count: int = 2  # rarer training bigrams map to UNK
    batch_tokens: int = 3000  # padded characters per training batch
    max_train_sentences: int | None = None  # use only the first N training sentences


def char_labels(sentence: pku.Sentence) -> tuple[list[str], list[str]]:
    """The characters of a gold sentence and their ``B/I/E/S-tag`` labels."""
    chars, labels = [], []
    for word, tag in zip(sentence.words, sentence.tags, strict=True):
        chars.extend(word)
        labels.extend(f"{m}-{tag}" for m in _marks(len(word)))
    return chars, labels


def _marks(n: int) -> list[str]:
    """The boundary marks of an ``n``-character word: ``S``, or ``B I ... I E``."""
    return ["S"] if n == 1 else ["B", *["I"] * (n - 2), "E"]


def spans(labels: Sequence[str]) -> list[tuple[int, int, str]]:
    """Words as ``(start, end, tag)`` character spans (end exclusive).

    A word starts at ``B`` or ``S``, or at an ``I``/``E`` that does not continue an open word
    of the same tag; it ends after ``E`` or ``S``, or where the next one starts.
    """
    out: list[tuple[int, int, str]] = []
    start, tag = None, None
    for i, label in enumerate(labels):
        mark, _, t = label.partition("-")
        continues = start is not None and mark in ("I", "E") and t == tag
        if not continues:
            if start is not None:
                out.append((start, i, tag))
            start, tag = i, t
        if mark in ("E", "S"):
            out.append((start, i + 1, tag))
            start, tag = None, None
    if start is not None:
        out.append((start, len(labels), tag))
    return out


def words_and_tags(text: str, labels: Sequence[str]) -> tuple[list[str], list[str]]:
    """The words (as written in ``text``) and tags that character labels describe."""
    found = spans(labels)
    return [text[a:b] for a, b, _ in found], [t for _, _, t in found]


def gold_spans(sentence: pku.Sentence) -> list[tuple[int, int, str]]:
    """The gold words of a sentence as ``(start, end, tag)`` character spans."""
    out, pos = [], 0
    for word, tag in zip(sentence.words, sentence.tags, strict=True):
        out.append((pos, pos + len(word), tag))
        pos += len(word)
    return out


@dataclass
class SegTagVocab(JsonFields):
    """Characters, bigrams and labels of a run; the training words (normalised) for OOV."""

    chars: list[str]
    bigrams: list[str]
    labels: list[str]
    train_words: list[str]

    def __post_init__(self) -> None:
        self.char_id = {c: i for i, c in enumerate(self.chars)}
        self.bigram_id = {b: i for i, b in enumerate(self.bigrams)}
        self.label_id = {t: i for i, t in enumerate(self.labels)}
        self.known_words = set(self.train_words)

    @classmethod
    def build(cls, train: Sequence[pku.Sentence], cfg: SegTagDataConfig) -> SegTagVocab:
        chars: Counter[str] = Counter()
        bigrams: Counter[str] = Counter()
        labels: Counter[str] = Counter()
        words: set[str] = set()
        for s in train:
            text, tags = char_labels(s)
            norm = [pku.normalize(c) for c in text]
            chars.update(norm)
            bigrams.update(_bigrams(norm)[0])
            labels.update(tags)
            words.update(pku.normalize(w) for w in s.words)
        specials = list(SPECIAL_TOKENS[: UNK_ID + 1])  # <pad>, <unk>
        return cls(
            chars=[*specials, *sorted(c for c, n in chars.items() if n >= cfg.min_char_count)],
            bigrams=[
                *specials,
                *sorted(b for b, n in bigrams.items() if n >= cfg.min_bigram_count),
            ],
            labels=sorted(labels),
            train_words=sorted(words),
        )

    def tagger_sizes(self) -> dict[str, int]:
        """The sizes of a :class:`~attnkit.models.tagger.Tagger` over characters: characters
        are its units, bigrams its sub-units, labels its tags."""
        return {
            "num_words": len(self.chars),
            "num_chars": len(self.bigrams),
            "num_tags": len(self.labels),
        }

    def is_oov(self, word: str) -> bool:
        return pku.normalize(word) not in self.known_words

    def encode_text(self, text: str) -> tuple[torch.Tensor, torch.Tensor]:
        """``(L,)`` character ids and ``(L, 2)`` ids of their left and right bigrams."""
        norm = [pku.normalize(c) for c in text]
        chars = torch.tensor([self.char_id.get(c, UNK_ID) for c in norm], dtype=torch.long)
        left, right = _bigrams(norm)
        grams = [
            [self.bigram_id.get(x, UNK_ID), self.bigram_id.get(y, UNK_ID)]
            for x, y in zip(left, right, strict=True)
        ]
        return chars, torch.tensor(grams, dtype=torch.long).reshape(len(norm), 2)

    def encode_labels(self, labels: Sequence[str]) -> torch.Tensor:
        # a label never seen in training counts as an error
        return torch.tensor([self.label_id.get(t, -1) for t in labels], dtype=torch.long)

    def allowed(self, words: Sequence[str]) -> torch.Tensor:
        """``(L, T)`` bool: the labels each character may take given a known segmentation."""
        by_mark = {
            m: torch.tensor([lab.startswith(m + "-") for lab in self.labels]) for m in "BIES"
        }
        return torch.stack([by_mark[m] for w in words for m in _marks(len(w))])  # (L, T)


def _bigrams(chars: Sequence[str]) -> tuple[list[str], list[str]]:
    """Each character's bigram with its left and with its right neighbour."""
    padded = [EDGE, *chars, EDGE]
    left = [padded[i] + padded[i + 1] for i in range(len(chars))]
    right = [padded[i + 1] + padded[i + 2] for i in range(len(chars))]
    return left, right


# chars (L,), bigrams (L, 2), labels (L,): the word tagger's example shape, so its collate and
# batches serve (``words`` = character ids, ``chars`` = bigram ids)
Example = tuple[torch.Tensor, torch.Tensor, torch.Tensor]


def encode(sentences: Sequence[pku.Sentence], vocab: SegTagVocab) -> list[Example]:
    """Each gold sentence as ``(char ids, bigram ids, label ids)``."""
    out = []
    for s in sentences:
        text, labels = char_labels(s)
        c, b = vocab.encode_text("".join(text))
        out.append((c, b, vocab.encode_labels(labels)))
    return out


def scores(
    gold: Sequence[Sequence[tuple[int, int, str]]],
    pred: Sequence[Sequence[tuple[int, int, str]]],
    oov: Sequence[Sequence[bool]] | None = None,
) -> dict[str, float]:
    """Segmentation F1 (word spans), joint F1 (spans and tags) and OOV recall.

    Args:
        gold: each sentence's gold ``(start, end, tag)`` spans.
        pred: each sentence's predicted spans.
        oov: for each gold span, whether its word is out of vocabulary (for the recall of
            unseen words' boundaries).

    Example:
        >>> scores([[(0, 2, "n"), (2, 3, "v")]], [[(0, 2, "n"), (2, 3, "n")]])["joint_f1"]
        0.5
    """
    n_gold = n_pred = seg_hit = joint_hit = oov_n = oov_hit = 0
    for i, (g, p) in enumerate(zip(gold, pred, strict=True)):
        p_spans = {(a, b) for a, b, _ in p}
        p_full = set(p)
        n_gold, n_pred = n_gold + len(g), n_pred + len(p)
        for j, (a, b, t) in enumerate(g):
            seg_hit += (a, b) in p_spans
            joint_hit += (a, b, t) in p_full
            if oov is not None and oov[i][j]:
                oov_n += 1
                oov_hit += (a, b) in p_spans

    def f1(hit: int) -> float:
        precision, recall = hit / max(n_pred, 1), hit / max(n_gold, 1)
        return 2 * precision * recall / max(precision + recall, 1e-12)

    return {
        "segmentation_f1": f1(seg_hit),
        "joint_f1": f1(joint_hit),
        "oov_recall": oov_hit / max(oov_n, 1),
        "gold_words": n_gold,
        "oov_words": oov_n,
    }


__all__ = [
    "VOCAB_FILE",
    "Example",
    "SegTagDataConfig",
    "SegTagVocab",
    "batches",
    "char_labels",
    "collate",
    "encode",
    "gold_spans",
    "load_splits",
    "scores",
    "spans",
    "words_and_tags",
]
