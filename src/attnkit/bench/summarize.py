"""Summarization quality: the pointer-generator without and with coverage beside the Lead
baselines on Debian package descriptions, and the same model on the other corpora.

=====================  ==============================================================
row                    what
=====================  ==============================================================
lead1                  the document's first sentence (no training), per corpus
pgn                    ``attnkit train summarize`` (``configs/summarize_debian.yaml``)
pgn_coverage           the paper's schedule: ``pgn`` fine-tuned with coverage
                       (``model.coverage=true``, ``train.init_from``), a short second run
aclsum                 ``pgn`` fine-tuned on the 100 ACL training papers (transfer)
aclsum_scratch         the same recipe from random weights (how much the transfer brings)
aclsum_coverage        ``pgn_coverage`` fine-tuned on them, coverage kept
aclsum_long            ``pgn`` fine-tuned twice as long at twice the learning rate
manpages               trained on manual pages (DESCRIPTION -> NAME line)
manpages_transfer      ``pgn`` fine-tuned on them
manpages_coverage      ``pgn_coverage`` fine-tuned on them, coverage kept
=====================  ==============================================================

ROUGE-1/2/L F1 (rouge-score, stemming) and Lead-N (the first N words, N = the model's
summary length) on each corpus' test split, the share of summaries with a repeated trigram
(with the search's trigram blocking, and without it), the share of output words copied as
out-of-vocabulary words, mean p_gen, novel unigrams and bigrams, and each run's training
minutes. Runs go to ``<runs>/<name>`` (resumable, reused when finished); results to
``<out>/summarize-<timestamp>.json``.

Example:
    $ attnkit bench summarize                         # about 1.5 hours on 2 CPU cores
"""

from __future__ import annotations

import argparse
import shutil
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

from attnkit.bench.variants import Variant, add_run_options, report, run_variants, runs_folder
from attnkit.fileio import read_json

COVERAGE = (
    "model.coverage=true",
    "train.epochs=1",
    "train.budget_minutes=6",
    "train.lr=0.0005",
    "train.warmup_steps=0",
)
"""The coverage fine-tuning on top of the ``pgn`` run (``train.init_from`` is added)."""

ACLSUM = (
    "data.corpus=aclsum",
    "data.dev_limit=150",
    "train.budget_minutes=null",
    "train.epochs=30",
    "train.eval_every=0",
    "train.warmup_steps=0",
    "train.lr=0.0005",
    "decode.block_unk=false",
)
"""The small ACL corpus: 300 training pairs, 30 epochs of about 6 batches, dev each epoch;
searched as its first runs were (before ``block_unk`` was chosen), so its rows compare."""

MANPAGES = ("data.corpus=manpages", "train.budget_minutes=15", "train.eval_every=200")
"""Manual pages (4,508 training pairs): from random weights, or from ``pgn`` (transfer)."""

FIGURES = (
    ("R-1", "rouge1"),
    ("R-2", "rouge2"),
    ("R-L", "rougeL"),
    ("rep3 %", "repeated_trigram_share"),
    ("rep3 unbl. %", "repeated_trigram_share_unblocked"),
)
KEPT = (
    "unblocked",
    "lead_n",
    "copied_oov_share",
    "mean_p_gen",
    "novel_unigram_share",
    "novel_bigram_share",
    "reference_novel_unigram_share",
    "mean_summary_words",
    "documents",
    "documents_per_second",
)


def variants(runs) -> list[Variant]:
    """The runs in training order (the fine-tuned ones start from ``pgn``)."""
    pgn = f"train.init_from={runs / 'pgn'}"
    cov = f"train.init_from={runs / 'pgn_coverage'}"
    return [
        Variant("pgn"),
        Variant("pgn_coverage", (*COVERAGE, pgn)),
        Variant("aclsum", (*ACLSUM, pgn)),
        Variant("aclsum_scratch", ACLSUM),
        Variant("aclsum_coverage", (*ACLSUM, "model.coverage=true", cov)),
        Variant("aclsum_long", (*ACLSUM, "train.epochs=60", "train.lr=0.001", pgn)),
        Variant("manpages", MANPAGES),
        Variant("manpages_transfer", (*MANPAGES, "train.lr=0.0005", "train.warmup_steps=0", pgn)),
        Variant(
            "manpages_coverage",
            (
                *MANPAGES,
                "train.lr=0.0005",
                "train.warmup_steps=0",
                "model.coverage=true",
                "decode.block_unk=false",
                cov,
            ),
        ),
    ]


DECODE_VARIANTS = {"no_unk": ("decode.block_unk=true",)}
"""Search settings tried on a trained run: scored on dev, and on test under their own row."""


def decode_variant(run_dir: Path, name: str, overrides: Sequence[str]) -> dict:
    """Score the best checkpoint of ``run_dir`` with other search settings, on dev and test.

    The checkpoint, assets and config (with ``overrides``) are copied to ``<run_dir>+<name>``
    (so the run's own files stay as they are) and evaluated there once; finished folders
    are reused. Returns ``{"dev": metrics, "test": metrics, "overrides": [...], "run_dev":
    the run's own settings on dev}`` (what the choice is made on).
    """
    from attnkit.config import load_config, save_config
    from attnkit.tasks import evaluate, get_task

    dest = run_dir.with_name(f"{run_dir.name}+{name}")
    if not all((dest / f"eval_{s}.json").is_file() for s in ("dev", "test")):
        task = get_task("summarize")
        tmp = dest.with_name(dest.name + ".tmp")
        shutil.rmtree(tmp, ignore_errors=True)
        shutil.copytree(run_dir / "best", tmp / "best")
        for f in ("meta.json", "vocab.json"):
            shutil.copy(run_dir / f, tmp / f)
        cfg = load_config(task.config_class, run_dir / "config.yaml", overrides)
        save_config(cfg, tmp / "config.yaml")
        shutil.rmtree(dest, ignore_errors=True)
        tmp.rename(dest)
        for split in ("dev", "test"):
            evaluate(dest, split)
    if not (run_dir / "eval_dev.json").is_file():
        evaluate(run_dir, "dev")
    return {
        "overrides": list(overrides),
        "run_dev": read_json(run_dir / "eval_dev.json", "metrics"),
        **{s: read_json(dest / f"eval_{s}.json", "metrics") for s in ("dev", "test")},
    }


def rows_of(results: dict[str, dict]) -> dict[str, dict]:
    """Table rows: per corpus its Lead-1 (``lead1:<corpus>``), then each model run."""
    rows: dict[str, dict] = {}
    for name, r in results.items():
        corpus, t = r["config"]["data"]["corpus"], r["test"]
        rows.setdefault(f"lead1:{corpus}", dict(t["lead1"]))
        rows[name] = (
            {k: t[k] for _, k in FIGURES}
            | {k: t[k] for k in KEPT}
            | {k: t[k] for k in ("templated_documents", "without_templated") if k in t}
            | {
                "corpus": corpus,
                "train_minutes": round(r["train"]["train_seconds"] / 60, 1),
                "steps": r["train"]["steps"],
            }
        )
    return rows


def table(rows: dict[str, dict]) -> list[str]:
    head = "".join(f"{label:>13}" for label, _ in FIGURES)
    lines = [f"{'system':<26}{head}{'p_gen':>7}{'minutes':>9}", "-" * (26 + 13 * 5 + 16)]
    for name, r in rows.items():
        cells = "".join(f"{r[key]:>13.2f}" if key in r else f"{'':>13}" for _, key in FIGURES)
        p_gen = f"{r['mean_p_gen']:>7.3f}" if "mean_p_gen" in r else f"{'':>7}"
        minutes = f"{r['train_minutes']:>9.1f}" if "train_minutes" in r else ""
        lines.append(f"{name:<26}{cells}{p_gen}{minutes}")
    return lines


def main(argv: list[str] | None = None) -> int:
    """Train both runs (or reuse them) and report; returns the exit status."""
    parser = argparse.ArgumentParser(
        prog="attnkit bench summarize", description=__doc__.split("\n")[0]
    )
    add_run_options(parser, "summarize")
    parser.add_argument("--only", default="", help="comma-separated runs (default: all)")
    args = parser.parse_args(argv)
    started = datetime.now()
    runs = runs_folder(args, "summarize")
    chosen = [v for v in variants(runs) if not args.only or v.name in args.only.split(",")]
    results = run_variants("summarize", chosen, runs, args.overrides)
    rows = rows_of(results)
    searches = {}  # search settings tried on the Debian runs, scored on dev and test
    for name in ("pgn", "pgn_coverage"):
        for variant, overrides in DECODE_VARIANTS.items() if name in results else ():
            print(f"{name} + {variant}: {' '.join(overrides)} (dev, then test)")
            searches[f"{name}+{variant}"] = decode_variant(runs / name, variant, overrides)
    report("summarize", args, started, table(rows), rows=rows, results=results, searches=searches)
    return 0


__all__ = ["ACLSUM", "COVERAGE", "MANPAGES", "main", "rows_of", "table", "variants"]
