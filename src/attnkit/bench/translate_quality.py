"""Translation quality on the held-out test splits: the default recipe under the demo's time
budgets, run to its full epochs, and on the small JupyterLab corpus, each beside the recipe
before it followed the run (``*_old``: a fixed 200-step warm-up, the Bible's batch size and
epochs whatever the corpus, no loop guard).

=================  ==============================================================
variant            what
=================  ==============================================================
budget15           ``configs/translate_es_en.yaml`` with ``train.budget_minutes=15``:
                   what ``make demo`` trains
budget3            the same with a 3-minute budget
full               the same config to its 20 epochs (early stopping on dev BLEU)
transformer_full   ``configs/translate_es_en_transformer.yaml`` to its 20 epochs, the same way
jupyterlab         ``--set data.corpus=jupyterlab-fr``: the README's second corpus
*_old              the same with :data:`OLD_RECIPE`
=================  ==============================================================

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

OLD_RECIPE = (
    "train.warmup_fraction=0",
    "train.warmup_steps=200",
    "train.min_steps=0",
    "data.min_batches_per_epoch=0",
    "data.full_batch_minutes=0",
    "decode.max_repeat=0",
)
"""The recipe before it followed the run (attnkit before 0.2)."""

_BASE = {
    "budget15": ("train.budget_minutes=15",),
    "budget3": ("train.budget_minutes=3",),
    "full": (),
    "jupyterlab": ("data.corpus=jupyterlab-fr",),
}
VARIANTS = {
    **{name: Variant(name, sets) for name, sets in _BASE.items()},
    **{f"{name}_old": Variant(f"{name}_old", (*sets, *OLD_RECIPE)) for name, sets in _BASE.items()},
    "transformer_full": Variant("transformer_full", (), "translate_es_en_transformer.yaml"),
}


DEFAULT_VARIANTS = ("budget15", "full", "budget3", "jupyterlab")


def table(results: dict[str, dict]) -> list[str]:
    """One row per variant: training, test BLEU/chrF, and without the verbatim overlap."""
    lines = [
        f"{'variant':<16}{'steps':>7}{'train min':>10}{'tok/s':>8}{'dev BLEU':>9}"
        f"{'test BLEU':>10}{'chrF':>7}{'loop %':>7}{'%1 kept':>8}{'in train':>9}"
        f"{'BLEU w/o':>9}",
        "-" * 100,
    ]
    for name, r in results.items():
        t, s = r["train"], r["test"]
        lines.append(
            f"{name:<16}{t['steps']:>7}{t['train_seconds'] / 60:>10.1f}"
            f"{t['units_per_second']:>8,.0f}{t['best_bleu']:>9.2f}{s['bleu']:>10.2f}"
            f"{s['chrf']:>7.2f}{100 * s.get('looping_share', 0):>7.1f}"
            f"{100 * s.get('placeholder_recall', 0):>8.1f}{s['in_train_verbatim']:>9}"
            f"{s['bleu_without_in_train']:>9.2f}"
        )
    return lines


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="attnkit bench translate-quality", description=__doc__.split("\n")[0]
    )
    parser.add_argument(
        "--variants",
        default=",".join(DEFAULT_VARIANTS),
        help=f"comma-separated from {','.join(VARIANTS)} (default {','.join(DEFAULT_VARIANTS)})",
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


__all__ = ["DEFAULT_VARIANTS", "OLD_RECIPE", "VARIANTS", "main", "table"]
