"""Raw Chinese text segmented and tagged the PKU way by one character-level model.

Each character gets a ``B/I/E/S-tag`` label (:mod:`attnkit.data.segtag`); the model is the
word tagger's BiLSTM + self-attention + CRF reading characters and their bigrams
(:class:`attnkit.models.tagger.Tagger` with ``subunits: concat``). The best checkpoint is
picked by joint (segmentation + tag) F1 on dev; ``evaluate`` scores raw test text against
gold words, beside jieba ``posseg`` on the same text.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch

from attnkit.data import pku, segtag
from attnkit.data.segtag import VOCAB_FILE, SegTagVocab
from attnkit.errors import AttnkitError
from attnkit.models.tagger import Tagger
from attnkit.tasks.base import Prepared, Task
from attnkit.tasks.runs import Run
from attnkit.tasks.segtag.config import Config
from attnkit.tasks.tag.segment import JIEBA_TO_PKU, check_input, jieba_text, segment
from attnkit.tasks.tag.task import attention_layers, splits_and_vocab, tagger_loss

EVAL_BATCH_TOKENS = 12000
SEGMENTERS = ("model", "jieba")


@torch.no_grad()
def predict_labels(model: Tagger, examples: Sequence[segtag.Example], vocab: SegTagVocab):
    """Label strings of each encoded sentence (input order); the model in eval mode."""
    device = next(model.parameters()).device
    out: list[list[str]] = [[] for _ in examples]
    groups = segtag.batches(examples, EVAL_BATCH_TOKENS, shuffle=False)
    for idx, batch in zip(groups.groups, groups, strict=True):
        paths = model.decode(*(batch[k].to(device) for k in ("words", "chars", "mask")))
        for i, path in zip(idx, paths, strict=True):
            out[i] = [vocab.labels[j] for j in path]
    return out


def score_sentences(
    model: Tagger, sentences: Sequence[pku.Sentence], vocab: SegTagVocab
) -> dict[str, float]:
    """Segmentation and joint F1 and OOV recall of the model on raw (concatenated) text."""
    labels = predict_labels(model, segtag.encode(sentences, vocab), vocab)
    gold = [segtag.gold_spans(s) for s in sentences]
    oov = [[vocab.is_oov(w) for w in s.words] for s in sentences]
    return segtag.scores(gold, [segtag.spans(lab) for lab in labels], oov)


def jieba_scores(sentences: Sequence[pku.Sentence], vocab: SegTagVocab) -> dict[str, float]:
    """jieba ``posseg`` on the same raw text, its tags mapped to PKU's."""
    import logging

    import jieba
    import jieba.posseg as pseg

    jieba.setLogLevel(logging.WARNING)
    pred = []
    for s in sentences:
        spans, pos = [], 0
        for pair in pseg.lcut(jieba_text("".join(s.words))):
            spans.append((pos, pos + len(pair.word), JIEBA_TO_PKU.get(pair.flag, pair.flag)))
            pos += len(pair.word)
        pred.append(spans)
    gold = [segtag.gold_spans(s) for s in sentences]
    oov = [[vocab.is_oov(w) for w in s.words] for s in sentences]
    return segtag.scores(gold, pred, oov)


class SegTagTask(Task):
    """The ``segtag`` task (see :mod:`attnkit.tasks.base` for the contract)."""

    name = "segtag"
    config_class = Config
    default_config = "segtag_pku.yaml"
    unit = "char"

    # ----- training ---------------------------------------------------------------------------
    def prepare(self, cfg: Config, run_dir: Path, *, reuse: bool) -> Prepared:
        path = Path(run_dir) / VOCAB_FILE
        splits, vocab = splits_and_vocab(cfg.data, path, SegTagVocab, reuse)
        train = segtag.encode(splits["train"], vocab)
        return Prepared(
            assets=vocab,
            meta={"vocab": VOCAB_FILE},
            batches=lambda epoch: segtag.batches(
                train, cfg.data.batch_tokens, shuffle=True, seed=cfg.train.seed, epoch=epoch
            ),
            dev=(splits["dev"], vocab),
            description=(
                f"{len(train):,} training sentences ({sum(len(e[0]) for e in train):,} "
                f"characters), {len(splits['dev']):,} dev; {len(vocab.chars):,} characters, "
                f"{len(vocab.bigrams):,} bigrams, {len(vocab.labels)} labels"
            ),
        )

    def build_model(self, cfg: Config, assets: SegTagVocab) -> Tagger:
        if cfg.model.subunits != "concat" or cfg.model.subunit_slots != 2:
            raise AttnkitError("segtag reads two bigrams per character: model.subunits: concat")
        return Tagger(cfg.model, **assets.tagger_sizes())

    def loss(self, cfg: Config, model: torch.nn.Module, batch: dict) -> tuple[torch.Tensor, int]:
        return tagger_loss(model, batch)

    def validate(self, cfg: Config, model: torch.nn.Module, prepared: Prepared) -> dict[str, float]:
        sentences, vocab = prepared.dev
        out = score_sentences(model, sentences, vocab)
        return {k: out[k] for k in ("joint_f1", "segmentation_f1", "oov_recall")}

    # ----- runs -------------------------------------------------------------------------------
    def load_assets(self, run_dir: Path, meta: dict[str, Any]) -> SegTagVocab:
        return SegTagVocab.load(Path(run_dir) / meta.get("vocab", VOCAB_FILE))

    def evaluate(self, run: Run, split: str) -> dict[str, Any]:
        """Segmentation F1, joint F1 and OOV recall on the raw text of ``split``, beside
        jieba ``posseg``; characters per second of both."""
        if split not in pku.SPLITS:
            raise AttnkitError(f"unknown split {split!r}; choose one of: {', '.join(pku.SPLITS)}")
        sents = segtag.load_splits(run.config.data)[split]
        chars = sum(len(c) for s in sents for c in s.words)
        t0 = time.perf_counter()
        ours = score_sentences(run.model, sents, run.assets)
        ours_seconds = time.perf_counter() - t0
        t0 = time.perf_counter()
        jieba = jieba_scores(sents, run.assets)
        jieba_seconds = time.perf_counter() - t0
        return {
            **ours,
            "characters": chars,
            "characters_per_second": round(chars / ours_seconds),
            **{f"jieba_{k}": v for k, v in jieba.items() if k.endswith(("f1", "recall"))},
            "jieba_characters_per_second": round(chars / jieba_seconds),
        }

    # ----- use --------------------------------------------------------------------------------
    def predict(
        self,
        run: Run,
        inputs: Sequence[str],
        *,
        segmented: bool = False,
        segmenter: str = "model",
        attention: bool = False,
        layer: int = -1,
    ) -> list[dict[str, Any]]:
        """Segment and tag texts: ``words``, ``tags``, ``layers``; with ``attention`` the
        character-level weights ``(H, L, L)`` of one block and the ``characters`` they are over.

        ``segmented`` (words separated by spaces) or ``segmenter="jieba"`` fix the words; the
        model then only chooses the tags (the labels that fit those boundaries).

        Raises:
            AttnkitError: empty or non-Chinese text, an unknown segmenter or layer.
        """
        if segmenter not in SEGMENTERS:
            raise AttnkitError(
                f"segmenter must be one of {', '.join(SEGMENTERS)}, got {segmenter!r}"
            )
        model: Tagger = run.model
        layers = attention_layers(model, inputs, attention=attention, layer=layer)
        results = []
        for text in inputs:
            fixed = None
            if segmented or segmenter == "jieba":
                fixed = segment(text, segmented=segmented)
                text = "".join(fixed)
            else:
                text = "".join(check_input(text).split())
            c, b = run.assets.encode_text(text)
            c, b = c.to(run.device), b.to(run.device)
            allowed = None if fixed is None else run.assets.allowed(fixed)[None].to(run.device)
            with torch.no_grad():
                path = model.decode(c[None], b[None], allowed=allowed)[0]
                weights = (
                    model.attention_weights(c, b, layer=layer) if attention and layers else None
                )
            labels = [run.assets.labels[i] for i in path]
            if fixed is None:
                words, tags = segtag.words_and_tags(text, labels)
            else:  # the given words, each with the tag of its first character's label
                starts = [0, *itertools.accumulate(len(w) for w in fixed)][:-1]
                words, tags = fixed, [labels[i].partition("-")[2] for i in starts]
            out: dict[str, Any] = {"words": words, "tags": tags, "layers": layers}
            if attention:
                out.update(
                    layer=layer % layers if layers else None,
                    attention=weights,
                    characters=list(text),
                )
            results.append(out)
        return results

    def plot(self, result: dict[str, Any], path: Path) -> None:
        """Save the head-averaged character self-attention of a :meth:`predict` result."""
        from attnkit.viz import plot_heatmap, use_cjk_font

        if result.get("attention") is None:
            raise AttnkitError("this model has no self-attention layers (attention_layers=0)")
        weights = result["attention"].float().mean(0)  # (L, L), mean over heads
        labels = result["characters"]
        use_cjk_font()
        title = f"character self-attention, layer {result['layer'] + 1} (mean over heads)"
        plot_heatmap(weights, labels, labels, path, title)


TASK = SegTagTask()

__all__ = ["TASK", "SegTagTask", "jieba_scores", "predict_labels", "score_sentences"]
