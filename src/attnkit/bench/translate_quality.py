"""Translation quality on the held-out test split: the default recipe under the demo's time
budget and run to its full epochs, with the test pairs that occur verbatim in training.

===========  ==================================================================
variant      what
===========  ==================================================================
budget15     ``configs/translate_es_en.yaml`` with ``train.budget_minutes=15``:
             what ``make demo`` trains
full         the same config to its 20 epochs (early stopping on dev BLEU)
===========  ==================================================================

Each variant trains into ``<runs>/<variant>`` (resumable, reused when finished; see
:mod:`attnkit.bench.variants`), picks its checkpoint on dev BLEU and is scored once on the
test split (beam 5): BLEU, chrF, and both again without the test pairs found verbatim in the
training split. Results go to ``<out>/translate-quality-<timestamp>.json``.

Example:
    $ attnkit bench translate-quality                       # ~2 hours on 2 CPU cores
    $ attnkit bench translate-quality --variants budget15
"""

from __future__ import annotations

import argparse
import sys
from datetime import datetime

from attnkit.bench.variants import Variant, add_run_options, report, run_variants, runs_folder

VARIANTS = {
    "budget15": Variant("budget15", ("train.budget_minutes=15",)),
    "full": Variant("full"),
}


def table(results: dict[str, dict]) -> list[str]:
    """One row per variant: training, test BLEU/chrF, and without the verbatim overlap."""
    lines = [
        f"{'variant':<10}{'steps':>7}{'train min':>10}{'tok/s':>8}{'dev BLEU':>9}"
        f"{'test BLEU':>10}{'chrF':>7}{'in train':>9}{'BLEU w/o':>9}{'chrF w/o':>9}",
        "-" * 88,
    ]
    for name, r in results.items():
        t, s = r["train"], r["test"]
        lines.append(
            f"{name:<10}{t['steps']:>7}{t['train_seconds'] / 60:>10.1f}"
            f"{t['units_per_second']:>8,.0f}{t['best_bleu']:>9.2f}{s['bleu']:>10.2f}"
            f"{s['chrf']:>7.2f}{s['in_train_verbatim']:>9}{s['bleu_without_in_train']:>9.2f}"
            f"{s['chrf_without_in_train']:>9.2f}"
        )
    return lines


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="attnkit bench translate-quality", description=__doc__.split("\n")[0]
    )
    parser.add_argument(
        "--variants", default=",".join(VARIANTS), help=f"comma-separated from {','.join(VARIANTS)}"
    )
    add_run_options(parser, "translate-quality")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Train and test each variant; returns the exit status."""
    args = build_parser().parse_args(argv)
    names = [n.strip() for n in args.variants.split(",") if n.strip()]
    if not names or any(n not in VARIANTS for n in names):
        print(f"error: --variants from {', '.join(VARIANTS)}", file=sys.stderr)
        return 2
    started = datetime.now()
    runs = runs_folder(args, "translate-quality")
    results = run_variants("translate", [VARIANTS[n] for n in names], runs, args.overrides)
    report("translate-quality", args, started, table(results), results=results)
    return 0


__all__ = ["VARIANTS", "main", "table"]
