"""Parallel text made ready for a seq2seq model: corpus splits, tokenizers, ids and batches.

Everything between "a corpus name" and "padded tensors" for translation-like tasks lives here,
so a task calls :func:`prepare` once and gets back tokenizers (trained on the training split
and saved into the run folder, or reloaded from it), encoded splits and token-count batches.

Notation for tensor shapes: B sentences, Ls source length, Lt target length (with BOS/EOS).

Example:
    >>> from attnkit.data.text import WordTokenizer
    >>> tok = WordTokenizer.build(["a b c d"])
    >>> [tok.id_to_piece(i) for i in range(4, 8)]
    ['a', 'b', 'c', 'd']
    >>> data = encode_pairs([("a b", "c d"), ("", "x")], tok, tok)
    >>> data.src, data.tgt, data.index      # the empty source is dropped; EOS 3, BOS 2
    ([[4, 5, 3]], [[2, 6, 7, 3]], [0])
    >>> sorted(collate_pairs(data, [0]))
    ['src', 'src_len', 'tgt_in', 'tgt_out']
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import torch

from attnkit.data import bible, jupyterlab
from attnkit.data.batching import CollatedBatches, pad_sequences, token_batches
from attnkit.data.placeholders import (
    PLACEHOLDERS,
    SOURCE_WORDS_FILE,
    augment_pairs,
    save_word_forms,
    word_forms,
)
from attnkit.data.registry import ensure
from attnkit.data.text import Tokenizer, build_tokenizers, load_tokenizer, read_parallel

CORPORA = {"bible-es-en": bible.LANGS, "jupyterlab-fr": jupyterlab.LANGS}
"""Parallel corpus name -> (source language, target language), as its files are named."""


@dataclass
class ParallelDataConfig:
    """Which corpus, how it is tokenized and batched."""

    corpus: Literal["bible-es-en", "jupyterlab-fr"] = "bible-es-en"
    tokenizer: Literal["bpe", "unigram", "word"] = "bpe"
    vocab_size: int = 4000  # subword pieces (joint) or max words
    joint_vocab: bool = True  # one vocabulary for both languages
    max_len: int = 60  # drop training pairs with a side longer than this (tokens)
    max_tokens: int = 6000  # tokens per batch (source or target, padding counted)
    min_batches_per_epoch: int = 0  # > 0: smaller batches when an epoch would have fewer
    full_batch_minutes: float = 0  # > 0: a shorter time budget shrinks batches in proportion
    train_limit: int | None = None  # use only the first N training pairs (quick runs)
    dev_limit: int = 400  # dev sentences scored with greedy BLEU during training
    placeholder_rate: float = 0.0  # > 0: placeholders ⟦1⟧..⟦8⟧ for names in this share of pairs

    def __post_init__(self) -> None:
        rate = self.placeholder_rate
        if not 0 <= rate <= 1:
            raise ValueError(f"data.placeholder_rate must be in [0, 1], got {rate}")


@dataclass
class Encoded:
    """A split as token ids (source ends with EOS; target is BOS ... EOS) and raw targets."""

    src: list[list[int]]
    tgt: list[list[int]]
    refs: list[str]  # the raw target sentences, for BLEU
    index: list[int]  # position of each kept pair in the pairs given to encode_pairs

    def __len__(self) -> int:
        return len(self.src)

    def lengths(self) -> list[tuple[int, int]]:
        """``(source, target)`` lengths, what :func:`token_batches` packs by."""
        return [(len(s), len(t)) for s, t in zip(self.src, self.tgt, strict=True)]


@dataclass
class ParallelData:
    """The output of :func:`prepare`: tokenizers and the encoded train and dev splits."""

    src_tok: Tokenizer
    tgt_tok: Tokenizer
    tokenizer_files: tuple[str, str]  # (source, target), relative to the run folder
    train: Encoded
    dev: Encoded
    train_pairs: int  # training pairs before the length filter

    def epoch_tokens(self) -> int:
        """Tokens of one epoch, the longer side of each pair (what batches are packed by)."""
        return sum(max(s, t) for s, t in self.train.lengths())

    def batch_tokens(self, cfg: ParallelDataConfig, budget_minutes: float | None = None) -> int:
        """Tokens per batch: ``cfg.max_tokens``, or fewer so that an epoch has at least
        ``cfg.min_batches_per_epoch`` batches, and fewer again in proportion to a time budget
        shorter than ``cfg.full_batch_minutes`` (so that it makes about as many updates);
        never fewer than the longest pair.

        Example: ``max_tokens=6000, full_batch_minutes=15`` and a 3-minute budget: 1,200.
        """
        wanted = cfg.max_tokens
        if cfg.min_batches_per_epoch:
            wanted = min(wanted, self.epoch_tokens() // cfg.min_batches_per_epoch)
        if cfg.full_batch_minutes and budget_minutes:
            wanted = min(wanted, int(cfg.max_tokens * budget_minutes / cfg.full_batch_minutes))
        longest = max((max(s, t) for s, t in self.train.lengths()), default=1)
        return max(longest, wanted)

    def batches(self, epoch: int, *, max_tokens: int, seed: int) -> CollatedBatches:
        """The shuffled training batches of ``epoch`` (see :func:`token_batches`)."""
        groups = token_batches(
            self.train.lengths(), max_tokens, shuffle=True, seed=seed, epoch=epoch
        )
        return CollatedBatches(groups, lambda idx: collate_pairs(self.train, idx))

    def describe(self, cfg: ParallelDataConfig, budget_minutes: float | None = None) -> str:
        tokens = self.batch_tokens(cfg, budget_minutes)
        return (
            f"{len(self.train):,} training pairs (of {self.train_pairs:,}; max_len "
            f"{cfg.max_len}), {len(self.dev):,} dev; vocab {self.src_tok.vocab_size:,}/"
            f"{self.tgt_tok.vocab_size:,}; batches of <= {tokens:,} tokens "
            f"(about {max(1, self.epoch_tokens() // tokens):,} per epoch)"
        )


def load_split(corpus: str, split: str) -> list[tuple[str, str]]:
    """``(source, target)`` pairs of a split of a registered parallel corpus (fetched if needed)."""
    return read_parallel(ensure(corpus), split, CORPORA[corpus])


def encode_pairs(
    pairs: Sequence[tuple[str, str]],
    src_tok: Tokenizer,
    tgt_tok: Tokenizer,
    max_len: int | None = None,
) -> Encoded:
    """Encode pairs; with ``max_len``, drop pairs with a longer side. Empty sides are dropped."""
    out = Encoded([], [], [], [])
    for i, (s, t) in enumerate(pairs):
        s_ids = src_tok.encode(s, add_eos=True)
        t_ids = tgt_tok.encode(t, add_bos=True, add_eos=True)
        if max_len is not None and (len(s_ids) > max_len or len(t_ids) > max_len + 1):
            continue
        if len(s_ids) < 2 or len(t_ids) < 3:  # empty after tokenization
            continue
        out.src.append(s_ids)
        out.tgt.append(t_ids)
        out.refs.append(t)
        out.index.append(i)
    return out


def collate_pairs(data: Encoded, idx: Sequence[int]) -> dict[str, torch.Tensor]:
    """Pad a batch: ``src (B, Ls)``, ``src_len (B,)``, ``tgt_in``/``tgt_out (B, Lt-1)``."""
    src, src_len = pad_sequences([data.src[i] for i in idx])  # (B, Ls), (B,)
    tgt, _ = pad_sequences([data.tgt[i] for i in idx])  # (B, Lt)
    return {"src": src, "src_len": src_len, "tgt_in": tgt[:, :-1], "tgt_out": tgt[:, 1:]}


def tokenizer_files(cfg: ParallelDataConfig) -> tuple[str, str]:
    """Where the tokenizers of ``cfg`` go in a run folder: ``tokenizer/{joint|src|tgt}.*``."""
    ext = ".json" if cfg.tokenizer == "word" else ".model"
    names = ("joint", "joint") if cfg.joint_vocab else ("src", "tgt")
    return (f"tokenizer/{names[0]}{ext}", f"tokenizer/{names[1]}{ext}")


def load_tokenizers(run_dir: Path, files: Sequence[str]) -> tuple[Tokenizer, Tokenizer]:
    """The source and target tokenizers saved in a run folder."""
    src = load_tokenizer(Path(run_dir) / files[0])
    return src, (src if files[1] == files[0] else load_tokenizer(Path(run_dir) / files[1]))


def prepare(cfg: ParallelDataConfig, run_dir: Path, *, reuse: bool, seed: int = 0) -> ParallelData:
    """Read the train and dev splits, get the tokenizers and encode both splits.

    With ``cfg.placeholder_rate``, the tokenizers keep the placeholders whole and names shared
    by both sides of a training pair become placeholders in that share of the pairs that have
    any (:func:`attnkit.data.placeholders.augment_pairs`); the dev split stays as it is. The
    word forms of the training sources go to :data:`~attnkit.data.placeholders.SOURCE_WORDS_FILE`
    then (names they lack are masked when translating).

    Args:
        cfg: the data settings.
        run_dir: the run folder; the tokenizers are written to (or read from) there.
        reuse: load the run's tokenizers when they exist instead of training new ones.
        seed: which training pairs get placeholders.
    """
    raw_pairs = load_split(cfg.corpus, "train")[: cfg.train_limit]
    train_pairs = augment_pairs(raw_pairs, cfg.placeholder_rate, seed=seed)
    dev_pairs = load_split(cfg.corpus, "dev")[: cfg.dev_limit]
    files = tokenizer_files(cfg)
    if not (reuse and all((Path(run_dir) / f).exists() for f in files)):
        build_tokenizers(
            cfg.tokenizer,
            [s for s, _ in train_pairs],
            [t for _, t in train_pairs],
            Path(run_dir) / "tokenizer",
            joint=cfg.joint_vocab,
            vocab_size=cfg.vocab_size,
            symbols=PLACEHOLDERS if cfg.placeholder_rate else (),
        )
    words_file = Path(run_dir) / SOURCE_WORDS_FILE
    if cfg.placeholder_rate and not (reuse and words_file.is_file()):
        save_word_forms(words_file, word_forms(s for s, _ in raw_pairs))
    src_tok, tgt_tok = load_tokenizers(run_dir, files)
    return ParallelData(
        src_tok,
        tgt_tok,
        files,
        train=encode_pairs(train_pairs, src_tok, tgt_tok, cfg.max_len),
        dev=encode_pairs(dev_pairs, src_tok, tgt_tok),
        train_pairs=len(train_pairs),
    )


def verbatim_overlap(
    test: Sequence[tuple[str, str]], train: Sequence[tuple[str, str]]
) -> list[int]:
    """Indices of ``test`` pairs that occur verbatim (both sides) in ``train``.

    Formulaic sentences repeat across a corpus ("Y habló Jehová á Moisés, diciendo:"); a test
    score should be read beside how many test pairs the model could simply have memorised.

    Example:
        >>> verbatim_overlap([("a", "b"), ("c", "d")], [("c", "d"), ("a", "x")])
        [1]
    """
    seen = set(train)
    return [i for i, pair in enumerate(test) if pair in seen]


__all__ = [
    "CORPORA",
    "Encoded",
    "ParallelData",
    "ParallelDataConfig",
    "collate_pairs",
    "encode_pairs",
    "load_split",
    "load_tokenizers",
    "prepare",
    "tokenizer_files",
    "verbatim_overlap",
]
