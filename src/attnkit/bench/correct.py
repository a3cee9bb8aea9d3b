"""Spelling correction: the memory network vs pyspellchecker, symspellpy and leaving text as is.

All of them correct the same test sentences.

The run is ``configs/correct.yaml`` (overridable with ``--set``) in ``<runs>/default``,
trained once and reused (resumable: see :mod:`attnkit.bench.variants`). The test sentences are
the run's test split with its injected errors (``--max-sentences`` of them, spread over the
corpus; 0: all). Every system reads the same tokens and may change the same plain words; each
is timed over the whole set in this process with ``--threads`` torch threads (the peers look
each distinct word up once). Reported per system and per kind of error (non-word, real-word):
detection precision and recall, correction accuracy, clean tokens changed, and tokens/s
(:mod:`attnkit.tasks.correct.scoring`).

Example:
    $ attnkit bench correct                        # trains the default run first (~30 min)
    $ attnkit bench correct --max-sentences 1000 --systems model,symspellpy
"""

from __future__ import annotations

import argparse
import sys
import time
from datetime import datetime
from typing import Any

import torch

from attnkit.bench.variants import Variant, add_run_options, report, run_variant, runs_folder
from attnkit.tasks import open_run
from attnkit.tasks.correct.baselines import BASELINES, baseline
from attnkit.tasks.correct.scoring import ERROR_KINDS, score
from attnkit.tasks.correct.task import correct_examples, load_corpus, split_examples, spread

SYSTEMS = ("model", *BASELINES)
VARIANT = Variant("default")


def table(results: dict[str, dict[str, Any]]) -> list[str]:
    """One row per system: accuracy / precision / recall (%) per kind, clean changed, tok/s."""
    head = f"{'system':<16}" + "".join(f"{k[:4] + ' acc/P/R':>20}" for k in ERROR_KINDS)
    lines = [head + f"{'clean chg':>11}{'tok/s':>10}", "-" * (len(head) + 21)]
    for name, m in results.items():
        cells = "".join(
            f"{100 * m[k]['accuracy']:>8.1f}{100 * m[k]['precision']:>6.1f}"
            f"{100 * m[k]['recall']:>6.1f}"
            for k in ERROR_KINDS
        )
        lines.append(f"{name:<16}{cells}{100 * m['clean_changed']:>10.2f}%"
                     f"{m['tokens_per_second']:>10,.0f}")  # fmt: skip
    return lines


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="attnkit bench correct", description=__doc__.split("\n")[0]
    )
    systems = ", ".join(SYSTEMS)
    parser.add_argument("--systems", default=systems.replace(" ", ""),
                        help=f"comma-separated, from {systems} (default all)")  # fmt: skip
    parser.add_argument("--max-sentences", type=int, default=4000,
                        help="test sentences scored, spread over the corpus (0: all)")  # fmt: skip
    parser.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    add_run_options(parser, "correct")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Train (or reuse) the run, score every system on the same sentences; the exit status."""
    args = build_parser().parse_args(argv)
    systems = [s.strip() for s in args.systems.split(",") if s.strip()]
    if not systems or any(s not in SYSTEMS for s in systems) or args.max_sentences < 0:
        print(f"error: --systems from {', '.join(SYSTEMS)}; --max-sentences >= 0",
              file=sys.stderr)  # fmt: skip
        return 2
    if args.threads < 1:
        print("error: --threads must be >= 1", file=sys.stderr)
        return 2
    torch.set_num_threads(args.threads)
    started = datetime.now()
    folder = runs_folder(args, "correct")
    trained = run_variant("correct", VARIANT, folder, args.overrides)
    run = open_run(folder / VARIANT.name)
    examples = spread(split_examples(run.config, load_corpus(run.config.data), "test"),
                      args.max_sentences)  # fmt: skip
    results: dict[str, dict[str, Any]] = {}
    for name in systems:
        print(f"{name}: correcting {len(examples):,} sentences ...", file=sys.stderr)
        correct = (lambda ex: correct_examples(run, ex)[0]) if name == "model" else baseline(name)
        start = time.perf_counter()
        predictions = correct(examples)
        results[name] = score(examples, predictions, seconds=time.perf_counter() - start)
    report(
        "correct",
        args,
        started,
        table(results),
        threads=args.threads,
        seed=run.config.train.seed,
        injection_seed=run.config.data.seed,
        sentences=len(examples),
        systems=systems,
        results=results,
        run=str(folder / VARIANT.name),
        train=trained["train"],
        test_full_split=trained["test"],
        corpus=trained["meta"].get("corpus", {}),
    )
    return 0


__all__ = ["SYSTEMS", "main", "table"]
