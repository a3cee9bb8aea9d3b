"""Segmented, tagged sentences made ready for a tagger: vocabularies, ids, padded batches.

Everything between "the PKU corpus" and "padded tensors" for word-level tagging lives here:
the word / character / tag vocabularies (built on the training split, saved in the run
folder), encoding, collation and token-count batches (the shared
:func:`~attnkit.data.batching.token_batches`).

Notation for tensor shapes: B sentences, L words, C characters per word (<= ``max_chars``).

Example:
    >>> from attnkit.data.pku import Sentence
    >>> train = [Sentence(("我", "爱", "北京"), ("r", "v", "ns"), "d0")]
    >>> vocab = Vocab.build(train, TagDataConfig(min_word_count=1, min_char_count=1))
    >>> batch = collate(encode(train, vocab))
    >>> batch["words"].shape, batch["chars"].shape, batch["mask"].tolist()
    (torch.Size([1, 3]), torch.Size([1, 3, 2]), [[True, True, True]])
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

import torch

from attnkit.data import pku
from attnkit.data.batching import CollatedBatches, pad_sequences, token_batches
from attnkit.data.vocab import JsonFields
from attnkit.specials import PAD_ID, SPECIAL_TOKENS, UNK_ID

VOCAB_FILE = "vocab.json"


@dataclass
class TagDataConfig:
    """Corpus, vocabularies and batching of the tagger."""

    dataset: str = "pku-1998"  # registry name of the corpus
    min_word_count: int = 2  # rarer training words map to UNK (so UNK is trained)
    min_char_count: int = 2  # rarer training characters map to UNK
    max_chars: int = 8  # characters kept per word (first half + last half if longer)
    batch_tokens: int = 1500  # padded tokens per training batch (sentences bucketed by length)
    max_train_sentences: int | None = None  # use only the first N training sentences (quick runs)


@dataclass
class Vocab(JsonFields):
    """Word, character and tag vocabularies of a run, plus training word counts (for OOV).

    Words and characters are looked up in their :func:`attnkit.data.pku.normalize` form; a word
    is out of vocabulary (OOV) when that form never occurs in training. Ids 0 and 1 of
    ``words`` and ``chars`` are PAD and UNK (:mod:`attnkit.specials`).
    """

    words: list[str]
    chars: list[str]
    tags: list[str]
    train_counts: dict[str, int]  # normalised training word -> count (all words, for OOV)
    max_chars: int = 8

    def __post_init__(self) -> None:
        self.word_id = {w: i for i, w in enumerate(self.words)}
        self.char_id = {c: i for i, c in enumerate(self.chars)}
        self.tag_id = {t: i for i, t in enumerate(self.tags)}

    @classmethod
    def build(cls, train: Sequence[pku.Sentence], cfg: TagDataConfig) -> Vocab:
        """Count the training split: words and characters above the cut-offs, every tag."""
        counts: Counter[str] = Counter()
        chars: Counter[str] = Counter()
        tags: Counter[str] = Counter()
        for s in train:
            for w, t in zip(s.words, s.tags, strict=True):
                w = pku.normalize(w)
                counts[w] += 1
                chars.update(w)
                tags[t] += 1
        specials = list(SPECIAL_TOKENS[: UNK_ID + 1])  # <pad>, <unk>
        return cls(
            words=[*specials, *sorted(w for w, n in counts.items() if n >= cfg.min_word_count)],
            chars=[*specials, *sorted(c for c, n in chars.items() if n >= cfg.min_char_count)],
            tags=sorted(tags),
            train_counts=dict(counts),
            max_chars=cfg.max_chars,
        )

    def tagger_sizes(self) -> dict[str, int]:
        """The vocabulary sizes a :class:`~attnkit.models.tagger.Tagger` is built with."""
        return {
            "num_words": len(self.words),
            "num_chars": len(self.chars),
            "num_tags": len(self.tags),
        }

    def is_oov(self, word: str) -> bool:
        return pku.normalize(word) not in self.train_counts

    def encode_words(self, words: Sequence[str]) -> tuple[torch.Tensor, torch.Tensor]:
        """``(L,)`` word ids and ``(L, C)`` character ids (C <= max_chars) of one sentence."""
        norm = [pku.normalize(w) for w in words]
        wid = torch.tensor([self.word_id.get(w, UNK_ID) for w in norm], dtype=torch.long)
        half = self.max_chars // 2
        clipped = [
            w if len(w) <= self.max_chars else w[:half] + w[-(self.max_chars - half) :]
            for w in norm
        ]
        width = max((len(w) for w in clipped), default=1) or 1
        cid = torch.zeros(len(words), width, dtype=torch.long)  # (L, C)
        for i, w in enumerate(clipped):
            if w:
                cid[i, : len(w)] = torch.tensor([self.char_id.get(c, UNK_ID) for c in w])
        return wid, cid

    def encode_tags(self, tags: Sequence[str]) -> torch.Tensor:
        # A tag never seen in training (3 singletons in the corpus) counts as an error.
        return torch.tensor([self.tag_id.get(t, -1) for t in tags], dtype=torch.long)


Example = tuple[torch.Tensor, torch.Tensor, torch.Tensor]  # words (L,), chars (L, C), tags (L,)


def encode(sentences: Sequence[pku.Sentence], vocab: Vocab) -> list[Example]:
    """Each sentence as ``(word ids (L,), char ids (L, C), tag ids (L,))``."""
    out = []
    for s in sentences:
        w, c = vocab.encode_words(s.words)
        out.append((w, c, vocab.encode_tags(s.tags)))
    return out


def collate(examples: Sequence[Example]) -> dict[str, torch.Tensor]:
    """Pad sentences into ``words (B, L)``, ``chars (B, L, C)``, ``tags (B, L)``, ``mask (B, L)``.

    Tags of padding are 0; the mask is True on real words.
    """
    words, _ = pad_sequences([e[0].tolist() for e in examples], PAD_ID)  # (B, L)
    tags, _ = pad_sequences([e[2].clamp(min=0).tolist() for e in examples], 0)  # (B, L)
    C = max(e[1].size(1) for e in examples)
    chars = torch.full((*words.shape, C), PAD_ID, dtype=torch.long)  # (B, L, C)
    for b, (_, c, _) in enumerate(examples):
        chars[b, : c.size(0), : c.size(1)] = c
    return {"words": words, "chars": chars, "tags": tags, "mask": words != PAD_ID}


def batches(
    examples: Sequence[Example], batch_tokens: int, *, shuffle: bool, seed: int = 0, epoch: int = 0
) -> CollatedBatches:
    """Length-bucketed batches of about ``batch_tokens`` padded words, collated on demand."""
    lengths = [len(e[0]) for e in examples]
    groups = token_batches(lengths, batch_tokens, shuffle=shuffle, seed=seed, epoch=epoch)
    return CollatedBatches(groups, lambda idx: collate([examples[i] for i in idx]))


def load_splits(cfg: TagDataConfig) -> dict[str, list[pku.Sentence]]:
    """The corpus's train / dev / test sentences (train cut to ``max_train_sentences``).

    ``cfg`` is any data config with ``dataset`` and ``max_train_sentences`` (the word
    tagger's, or :class:`attnkit.data.segtag.SegTagDataConfig`).
    """
    from attnkit.data.registry import ensure

    splits = pku.load_splits(ensure(cfg.dataset))
    if cfg.max_train_sentences is not None:
        splits["train"] = splits["train"][: cfg.max_train_sentences]
    return splits


__all__ = [
    "VOCAB_FILE",
    "Example",
    "TagDataConfig",
    "Vocab",
    "batches",
    "collate",
    "encode",
    "load_splits",
]
