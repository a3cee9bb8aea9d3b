"""Context-aware spelling correction: real sentences with injected errors -> a memory network
that scores each checked token's candidates -> the corrected text, with each hop's attention.

Notation for tensor shapes: N tokens under scrutiny, C candidates, K hops, M memory slots.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from attnkit.data.batching import CollatedBatches
from attnkit.data.correction import (
    Corpus,
    Example,
    build_corpus,
    confusion_partners,
    join_text,
    match_case,
    split_text,
)
from attnkit.data.spell_candidates import CandidateGenerator
from attnkit.errors import AttnkitError
from attnkit.tasks.base import Prepared, Task
from attnkit.tasks.correct.config import Config, CorrectDataConfig
from attnkit.tasks.correct.encode import (
    FEATURES,
    IGNORE,
    CorrectVocab,
    Encoded,
    Encoder,
    LeaveOneOut,
    Lexicon,
)
from attnkit.tasks.correct.model import MemoryCorrector
from attnkit.tasks.correct.scoring import ERROR_KINDS, score
from attnkit.tasks.runs import Run

VOCAB_FILE = "vocab.json"
LEXICON_FILE = "lexicon.json"
SPLITS = ("train", "dev", "test")
EVAL_BATCH = 1024  # tokens under scrutiny scored at once


@dataclass
class CorrectAssets:
    """What a corrector is built and used with: its ids, its lexicon, its memory layout."""

    vocab: CorrectVocab
    lexicon: Lexicon
    window: int
    candidates: int

    @cached_property
    def generator(self) -> CandidateGenerator:
        """Candidates from the lexicon (built on first use: a few seconds)."""
        return CandidateGenerator(
            self.lexicon.counts, partners=confusion_partners(), limit=self.candidates
        )

    def encoder(self) -> Encoder:
        """A fresh encoder (its table of word bags grows with what it encodes)."""
        return Encoder(self.vocab, self.generator, window=self.window, candidates=self.candidates)


def load_corpus(d: CorrectDataConfig) -> Corpus:
    """The corpus of a data config (:func:`~attnkit.data.correction.build_corpus`)."""
    return build_corpus(d.sources, dev=d.dev, test=d.test, pair_dev=d.pair_dev,
                        pair_test=d.pair_test, frequent=d.frequent)  # fmt: skip


def spread(items: list, limit: int) -> list:
    """At most ``limit`` items taken evenly through ``items`` (all when ``limit`` is 0), so a
    cut keeps every source.

    Example:
        >>> spread(list(range(10)), 3)
        [0, 4, 8]
    """
    if not limit or len(items) <= limit:
        return items
    return items[:: math.ceil(len(items) / limit)]


def split_examples(cfg: Config, corpus: Corpus, split: str, *, copies: int = 1) -> list[Example]:
    """The split's sentences with their injected errors (``copies`` injections each)."""
    if split not in SPLITS:
        raise AttnkitError(f"unknown split {split!r}; choose one of: {', '.join(SPLITS)}")
    d = cfg.data
    return [ex for c in range(copies)
            for ex in corpus.examples(split, seed=d.seed + c, nonword_rate=d.nonword_rate,
                                      realword_rate=d.realword_rate)]  # fmt: skip


def encode_examples(
    encoder: Encoder, examples: Sequence[Example], *, leave_one_out: LeaveOneOut | None = None
) -> Encoded:
    """Encode the examples' tokens under scrutiny with their clean targets."""
    sentences = ((ex.tokens, ex.gaps) for ex in examples)
    return encoder.encode(sentences, (ex.target for ex in examples), leave_one_out=leave_one_out)


@torch.no_grad()
def candidate_scores(
    model: MemoryCorrector, data: Encoded, device: torch.device, *, weights: bool = False
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Candidate probabilities ``(N, C)`` and, with ``weights``, hop attention ``(N, K, M)``.

    The keep candidate of a word the lexicon lacks gets the model's ``unknown_keep_bias``
    added to its logit (a decision threshold chosen on dev; training never sees it).
    """
    probs, hops = [], []
    keep_unknown = FEATURES.index("keep_unknown")
    for start in range(0, len(data), EVAL_BATCH):
        b = data.batch(range(start, min(start + EVAL_BATCH, len(data))))
        logits, w = model(b["memory"].to(device), b["query"].to(device),
                          b["features"].to(device), b["mask"].to(device),
                          return_weights=weights)  # fmt: skip
        bias = model.config.unknown_keep_bias * b["features"][..., keep_unknown]  # (B, C)
        logits = logits + bias.to(device)
        probs.append(logits.float().softmax(-1).cpu())
        if weights:
            hops.append(w.float().cpu())
    C = model.config.candidates
    if not probs:
        return torch.zeros(0, C), (torch.zeros(0, model.config.hops, 0) if weights else None)
    return torch.cat(probs), (torch.cat(hops) if weights else None)


def apply_choices(
    tokens: Sequence[str], text: str, data: Encoded, rows: Sequence[int], choices: Sequence[int]
) -> list[str]:
    """The tokens with each checked token (``data`` rows ``rows``) replaced by its chosen
    candidate, written in the token's case (and the text's apostrophe)."""
    out = list(tokens)
    apostrophe = "’" if "’" in text else "'"
    for row, choice in zip(rows, choices, strict=True):
        if choice:
            i = data.checked[row][1]
            out[i] = match_case(data.candidates[row][choice].word, tokens[i], apostrophe)
    return out


def correct_examples(run: Run, examples: Sequence[Example]) -> tuple[list[list[str]], Encoded]:
    """The model's corrected tokens of each example (and the encoded tokens it checked)."""
    data = encode_examples(run.assets.encoder(), examples)
    probs, _ = candidate_scores(run.model, data, run.device)
    choices = probs.argmax(-1).tolist() if len(data) else []
    rows_of: list[list[int]] = [[] for _ in examples]
    for row, (s, _) in enumerate(data.checked):
        rows_of[s].append(row)
    predictions = [
        apply_choices(ex.tokens, ex.text, data, rows, [choices[r] for r in rows])
        for ex, rows in zip(examples, rows_of, strict=True)
    ]
    return predictions, data


class CorrectTask(Task):
    """The ``correct`` task (see :mod:`attnkit.tasks.base` for the contract)."""

    name = "correct"
    config_class = Config
    default_config = "correct.yaml"
    unit = "tok"

    # ----- training ---------------------------------------------------------------------------
    def prepare(self, cfg: Config, run_dir: Path, *, reuse: bool) -> Prepared:
        d, m = cfg.data, cfg.model
        corpus = load_corpus(d)
        corpus.sentences["train"] = spread(corpus.sentences["train"], d.max_train_sentences)
        corpus.sentences["dev"] = spread(corpus.sentences["dev"], d.max_eval_sentences)
        train = split_examples(cfg, corpus, "train", copies=d.train_copies)
        dev = split_examples(cfg, corpus, "dev")
        run_dir = Path(run_dir)
        vocab = CorrectVocab.load_or_build(
            run_dir / VOCAB_FILE,
            reuse=reuse,
            build=lambda: CorrectVocab.build(corpus.frequent, buckets=d.buckets, ngrams=d.ngrams),
        )
        lexicon = Lexicon.load_or_build(
            run_dir / LEXICON_FILE, reuse=reuse, build=lambda: Lexicon(corpus.lexicon)
        )
        assets = CorrectAssets(vocab, lexicon, m.window, m.candidates)
        encoder = assets.encoder()
        train_data = encode_examples(
            encoder, train, leave_one_out=LeaveOneOut(corpus.counts, corpus.listed)
        )
        dev_data = encode_examples(encoder, dev)
        usable = np.flatnonzero(train_data.target != IGNORE)

        def batches(epoch: int) -> CollatedBatches:
            order = usable[np.random.default_rng([cfg.train.seed, epoch]).permutation(len(usable))]
            groups = [order[i : i + d.batch_size].tolist()
                      for i in range(0, len(order), d.batch_size)]  # fmt: skip
            return CollatedBatches(groups, train_data.batch)

        errors = {k: sum(ex.kinds.count(k) for ex in train) for k in ERROR_KINDS}
        return Prepared(
            assets=assets,
            meta={
                "vocab_file": VOCAB_FILE,
                "lexicon_file": LEXICON_FILE,
                "vocab": len(vocab.words),
                "ids": vocab.size,
                "lexicon": len(lexicon.counts),
                "window": m.window,
                "candidates": m.candidates,
                "corpus": corpus.stats,
            },
            batches=batches,
            dev=(dev, dev_data),
            description=(
                f"{len(train):,} training sentences ({errors['nonword']:,} non-word and "
                f"{errors['realword']:,} real-word errors), {len(usable):,} checked tokens "
                f"({len(train_data) - len(usable):,} without their correction among the "
                f"candidates left out); {len(dev):,} dev sentences, {len(dev_data):,} checked; "
                f"{len(vocab.words):,} words + {d.buckets:,} n-gram buckets; lexicon "
                f"{len(lexicon.counts):,}"
            ),
        )

    def build_model(self, cfg: Config, assets: CorrectAssets) -> MemoryCorrector:
        return MemoryCorrector(cfg.model, vocab_size=assets.vocab.size, features=len(FEATURES))

    def loss(self, cfg: Config, model: torch.nn.Module, batch: dict) -> tuple[torch.Tensor, int]:
        logits, _ = model(batch["memory"], batch["query"], batch["features"], batch["mask"])
        return F.cross_entropy(logits.float(), batch["target"], ignore_index=IGNORE), len(logits)

    def validate(self, cfg: Config, model: torch.nn.Module, prepared: Prepared) -> dict[str, float]:
        """Over the dev tokens under scrutiny: ``accuracy`` (the right candidate chosen; a
        token whose correction is no candidate counts as wrong) and ``loss``; plus the
        non-word / real-word correction accuracy and the clean tokens changed."""
        examples, data = prepared.dev
        device = next(model.parameters()).device
        probs, _ = candidate_scores(model, data, device)
        target = torch.from_numpy(data.target)
        known = target != IGNORE
        out = {
            "accuracy": (probs.argmax(-1) == target).float().mean().item() if len(data) else 0.0,
            "loss": F.nll_loss(probs[known].clamp_min(1e-9).log(), target[known]).item()
            if known.any()
            else 0.0,
        }
        predictions = [list(ex.tokens) for ex in examples]
        choices = probs.argmax(-1).tolist() if len(data) else []
        for row, (s, i) in enumerate(data.checked):
            if choices[row]:
                predictions[s][i] = data.candidates[row][choices[row]].word
        metrics = score(examples, predictions)
        for kind in ERROR_KINDS:
            out[f"{kind}_accuracy"] = metrics[kind]["accuracy"]
        out["clean_changed"] = metrics["clean_changed"]
        return out

    # ----- runs -------------------------------------------------------------------------------
    def load_assets(self, run_dir: Path, meta: dict[str, Any]) -> CorrectAssets:
        run_dir = Path(run_dir)
        return CorrectAssets(
            CorrectVocab.load(run_dir / meta.get("vocab_file", VOCAB_FILE)),
            Lexicon.load(run_dir / meta.get("lexicon_file", LEXICON_FILE)),
            int(meta["window"]),
            int(meta["candidates"]),
        )

    def evaluate(self, run: Run, split: str) -> dict[str, Any]:
        """Metrics of :func:`~attnkit.tasks.correct.scoring.score` on every sentence of
        ``split`` (errors injected with the run's seed and rates), the throughput of the whole
        correction (encoding, candidates, model), and per kind the share of errors whose
        correction was among the candidates (what the model could get right at best)."""
        cfg: Config = run.config
        examples = split_examples(cfg, load_corpus(cfg.data), split)
        start = time.perf_counter()
        predictions, data = correct_examples(run, examples)
        metrics = score(examples, predictions, seconds=time.perf_counter() - start)
        reachable = dict.fromkeys(ERROR_KINDS, 0)
        for row, (s, i) in enumerate(data.checked):
            kind = examples[s].kinds[i]
            if kind != "clean" and data.target[row] != IGNORE:
                reachable[kind] += 1
        for kind in ERROR_KINDS:
            metrics[kind]["candidate_recall"] = (
                reachable[kind] / metrics[kind]["errors"] if metrics[kind]["errors"] else 0.0
            )
            for key in ("accuracy", "precision", "recall"):
                metrics[f"{kind}_{key}"] = metrics[kind][key]
        return metrics

    # ----- use --------------------------------------------------------------------------------
    def predict(
        self, run: Run, inputs: Sequence[Any], *, attention: bool = True, top: int = 5
    ) -> list[dict[str, Any]]:
        """Correct texts. Each result has the corrected ``text``, the input's ``tokens``, the
        ``changes`` (token ``index``, ``from``, ``to``, ``kind``: ``nonword`` for an unknown
        word, ``realword`` for a confusion-set word, and ``score``: the chosen candidate's
        probability) and, with ``attention``, ``hops``: for each checked token its
        ``candidates`` with probabilities, the ``memory`` slots (context tokens with their
        ``offset``, then the candidates) and the ``attention`` of each hop over them.

        Raises:
            AttnkitError: no input, an input that is not text, empty or longer than the
                run's ``max_chars``.
        """
        cfg: Config = run.config
        texts = self._read(inputs, cfg.max_chars)
        split = [split_text(t) for t in texts]
        data = run.assets.encoder().encode(split)
        probs, weights = candidate_scores(run.model, data, run.device, weights=attention)
        results = [{"text": t, "tokens": tokens, "changes": [], "hops": []}
                   for t, (tokens, _) in zip(texts, split, strict=True)]  # fmt: skip
        rows_of: list[list[int]] = [[] for _ in texts]
        for row, (s, _) in enumerate(data.checked):
            rows_of[s].append(row)
        for s, rows in enumerate(rows_of):
            tokens, gaps = split[s]
            choices = [int(probs[r].argmax()) for r in rows]
            fixed = apply_choices(tokens, texts[s], data, rows, choices)
            results[s]["text"] = join_text(fixed, gaps)
            for row, choice in zip(rows, choices, strict=True):
                i = data.checked[row][1]
                cands = data.candidates[row]
                if choice:
                    results[s]["changes"].append({
                        "index": i, "from": tokens[i], "to": fixed[i],
                        "kind": "realword" if cands[0].word in run.assets.generator.partners
                        else "nonword",
                        "score": probs[row, choice].item(),
                    })  # fmt: skip
                if attention:
                    results[s]["hops"].append(self._hops(run, tokens, data, row, probs, weights))
        return results

    @staticmethod
    def _hops(
        run: Run,
        tokens: Sequence[str],
        data: Encoded,
        row: int,
        probs: torch.Tensor,
        weights: torch.Tensor | None,
    ) -> dict[str, Any]:
        """One checked token's candidates, memory slots and hop attention (empty slots out)."""
        assert weights is not None
        W = run.assets.window
        i = data.checked[row][1]
        slots = []
        for m, offset in enumerate((*range(-W, 0), *range(1, W + 1))):
            if 0 <= i + offset < len(tokens):
                slots.append(
                    (m, {"kind": "context", "offset": offset, "label": tokens[i + offset]})
                )
        cands = data.candidates[row]
        for c, cand in enumerate(cands):
            slots.append((2 * W + c, {"kind": "candidate", "rank": c, "label": cand.word}))
        kept = [m for m, _ in slots]
        return {
            "index": i,
            "token": tokens[i],
            "candidates": [
                {"word": c.word, "probability": probs[row, r].item(), "keep": c.keep}
                for r, c in enumerate(cands)
            ],
            "memory": [slot for _, slot in slots],
            "attention": weights[row][:, kept].tolist(),  # (K, slots)
        }

    @staticmethod
    def _read(inputs: Sequence[Any], max_chars: int) -> list[str]:
        if not inputs:
            raise AttnkitError("empty input: give a text to correct")
        texts = []
        for item in inputs:
            if not isinstance(item, str):
                raise AttnkitError(f"each input must be a text, got {type(item).__name__}")
            if not item.strip():
                raise AttnkitError("empty text: give some words to correct")
            if len(item) > max_chars:
                raise AttnkitError(
                    f"text too long: {len(item):,} characters, the limit is {max_chars:,} "
                    "(max_chars); split it into sentences or lines"
                )
            texts.append(item)
        return texts


TASK = CorrectTask()

__all__ = [
    "TASK",
    "CorrectAssets",
    "CorrectTask",
    "apply_choices",
    "candidate_scores",
    "correct_examples",
    "load_corpus",
    "split_examples",
    "spread",
]
