"""Chinese raw text, segmented and tagged: the joint character model against jieba + the word
tagger and jieba ``posseg`` alone, on the raw (concatenated) text of the PKU test split.

===============  ==================================================================
row              what
===============  ==================================================================
joint            ``attnkit train segtag`` (``configs/segtag_pku.yaml``): one model
jieba_tagger     jieba segments, the word tagger (``configs/tag_pku.yaml``) tags
jieba_posseg     jieba segments and tags (its tags mapped to PKU's)
===============  ==================================================================

Segmentation F1 (word spans), joint F1 (spans and tags), recall of out-of-vocabulary words'
spans, and characters per second. Both models train into ``<runs>/<name>`` (resumable,
reused when finished); results go to ``<out>/segtag-<timestamp>.json``.

Example:
    $ attnkit bench segtag                                # about 1.5 hours on 2 CPU cores
"""

from __future__ import annotations

import argparse
import time
from datetime import datetime

from attnkit.bench.variants import Variant, add_run_options, report, run_variants, runs_folder


def pipeline_scores(joint_run, tagger_run, sentences) -> dict[str, float]:
    """jieba's words, tagged by the word tagger, scored like the joint model (every sentence,
    those without a Chinese character too, such as ``（Ａ、Ｂ）``)."""
    from attnkit.data import segtag
    from attnkit.tasks.tag import jieba_words, tag_words

    chars = sum(len(w) for s in sentences for w in s.words)
    t0 = time.perf_counter()
    pred = []
    for s in sentences:
        words = jieba_words("".join(s.words))  # jieba segments the raw text
        spans, pos = [], 0
        for w, t in zip(words, tag_words(tagger_run, words), strict=True):
            spans.append((pos, pos + len(w), t))
            pos += len(w)
        pred.append(spans)
    seconds = time.perf_counter() - t0
    oov = [[joint_run.assets.is_oov(w) for w in s.words] for s in sentences]
    gold = [segtag.gold_spans(s) for s in sentences]
    return {**segtag.scores(gold, pred, oov), "characters_per_second": round(chars / seconds)}


def table(rows: dict[str, dict]) -> list[str]:
    lines = [
        f"{'system':<16}{'seg F1':>8}{'joint F1':>9}{'OOV recall':>11}{'chars/s':>10}",
        "-" * 54,
    ]
    for name, r in rows.items():
        lines.append(
            f"{name:<16}{100 * r['segmentation_f1']:>8.2f}{100 * r['joint_f1']:>9.2f}"
            f"{100 * r['oov_recall']:>11.2f}{r['characters_per_second']:>10,}"
        )
    return lines


def main(argv: list[str] | None = None) -> int:
    """Train both models (or reuse them), score the three systems; returns the exit status."""
    from attnkit.data import segtag
    from attnkit.tasks import open_run

    parser = argparse.ArgumentParser(
        prog="attnkit bench segtag", description=__doc__.split("\n")[0]
    )
    add_run_options(parser, "segtag")
    args = parser.parse_args(argv)
    started = datetime.now()
    runs = runs_folder(args, "segtag")
    joint = run_variants("segtag", [Variant("joint")], runs, args.overrides)["joint"]
    word = run_variants("tag", [Variant("word_tagger")], runs)["word_tagger"]
    joint_run, tagger_run = open_run(runs / "joint"), open_run(runs / "word_tagger")
    test = segtag.load_splits(joint_run.config.data)["test"]
    t = joint["test"]
    rows = {
        "joint": {k: t[k] for k in ("segmentation_f1", "joint_f1", "oov_recall")}
        | {"characters_per_second": t["characters_per_second"]},
        "jieba_tagger": pipeline_scores(joint_run, tagger_run, test),
        "jieba_posseg": {
            k.removeprefix("jieba_"): v for k, v in t.items() if k.startswith("jieba_")
        },
    }
    report("segtag", args, started, table(rows), rows=rows, results={"joint": joint, "word": word})
    return 0


__all__ = ["main", "pipeline_scores", "table"]
