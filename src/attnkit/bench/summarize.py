"""Summarization quality: the pointer-generator without and with coverage, beside the Lead
baselines, on the test split of Debian package descriptions.

=============  =====================================================================
row            what
=============  =====================================================================
lead1          the document's first sentence (no training)
lead_n         the document's first N words, N = the pointer-generator's summary length
pgn            ``attnkit train summarize`` (``configs/summarize_debian.yaml``)
pgn_coverage   the paper's schedule: ``pgn``'s best checkpoint fine-tuned with coverage
               (``model.coverage=true``, ``train.init_from``), a short second run
=============  =====================================================================

ROUGE-1/2/L F1 (rouge-score, stemming), the share of summaries with a repeated trigram
(with the search's trigram blocking, and without it), the share of output words copied as
out-of-vocabulary words, mean p_gen, novel unigrams and bigrams, and each run's training
minutes. Runs go to ``<runs>/<name>`` (resumable, reused when finished); results to
``<out>/summarize-<timestamp>.json``.

Example:
    $ attnkit bench summarize                         # about 50 minutes on 2 CPU cores
"""

from __future__ import annotations

import argparse
from datetime import datetime

from attnkit.bench.variants import Variant, add_run_options, report, run_variants, runs_folder

COVERAGE = (
    "model.coverage=true",
    "train.epochs=1",
    "train.budget_minutes=6",
    "train.lr=0.0005",
    "train.warmup_steps=0",
)
"""The coverage fine-tuning on top of the ``pgn`` run (``train.init_from`` is added)."""

FIGURES = (
    ("R-1", "rouge1"),
    ("R-2", "rouge2"),
    ("R-L", "rougeL"),
    ("rep3 %", "repeated_trigram_share"),
    ("rep3 unbl. %", "repeated_trigram_share_unblocked"),
)


def rows_of(results: dict[str, dict]) -> dict[str, dict]:
    """Table rows: the Lead baselines (from the ``pgn`` run's test eval) and both models."""
    test = results["pgn"]["test"]
    rows = {"lead1": dict(test["lead1"]), "lead_n": dict(test["lead_n"])}
    for name, r in results.items():
        t = r["test"]
        rows[name] = {k: t[k] for _, k in FIGURES} | {
            k: t[k]
            for k in (
                "unblocked",
                "copied_oov_share",
                "mean_p_gen",
                "novel_unigram_share",
                "novel_bigram_share",
                "mean_summary_words",
                "documents",
                "documents_per_second",
            )
        }
        rows[name]["train_minutes"] = round(r["train"]["train_seconds"] / 60, 1)
        rows[name]["steps"] = r["train"]["steps"]
    return rows


def table(rows: dict[str, dict]) -> list[str]:
    head = "".join(f"{label:>13}" for label, _ in FIGURES)
    lines = [f"{'system':<14}{head}{'p_gen':>7}{'minutes':>9}", "-" * (14 + 13 * 5 + 16)]
    for name, r in rows.items():
        cells = "".join(f"{r[key]:>13.2f}" if key in r else f"{'':>13}" for _, key in FIGURES)
        p_gen = f"{r['mean_p_gen']:>7.3f}" if "mean_p_gen" in r else f"{'':>7}"
        minutes = f"{r['train_minutes']:>9.1f}" if "train_minutes" in r else ""
        lines.append(f"{name:<14}{cells}{p_gen}{minutes}")
    return lines


def main(argv: list[str] | None = None) -> int:
    """Train both runs (or reuse them) and report; returns the exit status."""
    parser = argparse.ArgumentParser(
        prog="attnkit bench summarize", description=__doc__.split("\n")[0]
    )
    add_run_options(parser, "summarize")
    args = parser.parse_args(argv)
    started = datetime.now()
    runs = runs_folder(args, "summarize")
    variants = [
        Variant("pgn"),
        Variant("pgn_coverage", (*COVERAGE, f"train.init_from={runs / 'pgn'}")),
    ]
    results = run_variants("summarize", variants, runs, args.overrides)
    rows = rows_of(results)
    report("summarize", args, started, table(rows), rows=rows, results=results)
    return 0


__all__ = ["COVERAGE", "main", "rows_of", "table"]
