"""Does attention earn its place? The PKU tagger with and without self-attention and CRF.

Trains the default tagger (``configs/tag_pku.yaml``) and its ablations on the same split
with the same seed and budget, tests each on the held-out test split (gold segmentation) and
prints one table with the most-frequent-tag and jieba ``posseg`` baselines beside them.

===============  ============================================================
variant          overrides
===============  ============================================================
full             (none): BiLSTM + self-attention + CRF
no_attention     ``model.attention_layers=0``
no_crf           ``model.crf=false``
attention_only   ``model.lstm_layers=0 model.attention_layers=2``: attention is
                 the only context (sinusoidal positions)
no_context       ``model.lstm_layers=0 model.attention_layers=0``: each word alone
                 (CRF transitions aside)
neither          ``model.attention_layers=0 model.crf=false`` (not by default)
===============  ============================================================

The baselines depend on the data only and are computed once, on the same test tokens, with
the tagger's definition of out-of-vocabulary (normalised form unseen in training);
``--baselines-only`` computes just them (a minute) into ``<out>/tag-baselines-*.json``.

Runs go to ``<runs>/<variant>`` and are resumable (see :mod:`attnkit.bench.variants`);
results to ``<out>/tag-<timestamp>.json`` and ``<out>/tag-latest.json``.

Example:
    $ attnkit bench tag                                   # about 2 hours on 2 CPU cores
    $ attnkit bench tag --set train.epochs=2 --variants full,no_crf
    $ attnkit bench tag --baselines-only
"""

from __future__ import annotations

import argparse
import sys
from datetime import datetime
from pathlib import Path

from attnkit.bench.variants import Variant, add_run_options, report, run_variants, runs_folder

VARIANTS = {
    "full": Variant("full"),
    "no_attention": Variant("no_attention", ("model.attention_layers=0",)),
    "no_crf": Variant("no_crf", ("model.crf=false",)),
    "attention_only": Variant(
        "attention_only", ("model.lstm_layers=0", "model.attention_layers=2")
    ),
    "no_context": Variant("no_context", ("model.lstm_layers=0", "model.attention_layers=0")),
    "neither": Variant("neither", ("model.attention_layers=0", "model.crf=false")),
}
DEFAULT_VARIANTS = ("full", "no_attention", "no_crf", "attention_only", "no_context")


def _pct(x: float) -> str:
    return f"{100 * x:6.2f}"


def parameters(config: dict) -> int:
    """Parameters of the tagger a run's resolved config describes (vocabulary from its data)."""
    from attnkit.config import from_dict
    from attnkit.data import tagging
    from attnkit.tasks import get_task
    from attnkit.tasks.runs import upgrade_config

    task = get_task("tag")
    cfg = from_dict(task.config_class, upgrade_config(config))
    vocab = tagging.Vocab.build(tagging.load_splits(cfg.data)["train"], cfg.data)
    return sum(p.numel() for p in task.build_model(cfg, vocab).parameters())


def baselines(overrides: list[str]) -> dict:
    """Most-frequent-tag and jieba ``posseg`` on the test split of the task's default data."""
    from attnkit.config import load_config
    from attnkit.data import pku, tagging
    from attnkit.paths import repo_configs_dir
    from attnkit.tasks import get_task
    from attnkit.tasks.tag import jieba_baseline

    task = get_task("tag")
    cfg = load_config(task.config_class, repo_configs_dir() / task.default_config, overrides)
    splits = tagging.load_splits(cfg.data)
    mft = pku.most_frequent_tag_baseline(splits["train"], splits["test"])
    jieba = jieba_baseline(splits["test"])
    return {
        "test_tokens": sum(len(s) for s in splits["test"]),
        "oov_rate": mft["oov_rate"],
        "most_frequent_tag_accuracy": mft["accuracy"],
        "most_frequent_tag_oov_accuracy": mft["oov_accuracy"],
        "jieba_accuracy": jieba["accuracy"],
        "jieba_accuracy_where_segmentation_agrees": jieba["accuracy_where_segmentation_agrees"],
        "jieba_segmentation_agreement": jieba["segmentation_agreement"],
    }


def table(results: dict[str, dict], base: dict) -> list[str]:
    """The comparison table: each variant, then the two baselines on the same test tokens."""
    lines = [
        f"{'variant':<16}{'lstm':>5}{'attn':>5}{'crf':>5}{'params':>11}{'train min':>10}"
        f"{'dev %':>8}{'test %':>8}{'OOV %':>8}",
        "-" * 76,
    ]
    for name, r in results.items():
        model = r["config"]["model"]
        lines.append(
            f"{name:<16}{model['lstm_layers']:>5}{model['attention_layers']:>5}"
            f"{'yes' if model['crf'] else 'no':>5}"
            f"{r['train']['parameters']:>11,}{r['train']['train_seconds'] / 60:>10.1f}"
            f"{_pct(r['train']['best_accuracy']):>8}{_pct(r['test']['accuracy']):>8}"
            f"{_pct(r['test']['oov_accuracy']):>8}"
        )
    return [*lines, *baseline_lines(base)]


def baseline_lines(base: dict) -> list[str]:
    return [
        f"{'most frequent tag (train counts)':<60}{_pct(base['most_frequent_tag_accuracy']):>8}"
        f"{_pct(base['most_frequent_tag_oov_accuracy']):>8}",
        f"{'jieba posseg, all gold tokens':<60}{_pct(base['jieba_accuracy']):>8}",
        f"{'jieba posseg, where its segmentation agrees':<60}"
        f"{_pct(base['jieba_accuracy_where_segmentation_agrees']):>8}"
        f"   ({_pct(base['jieba_segmentation_agreement']).strip()}% of tokens)",
        f"test tokens: {base['test_tokens']:,}; OOV rate {_pct(base['oov_rate']).strip()}%",
    ]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="attnkit bench tag", description=__doc__.split("\n")[0])
    parser.add_argument(
        "--variants",
        default=",".join(DEFAULT_VARIANTS),
        help=f"comma-separated subset of {','.join(VARIANTS)} (default "
        f"{','.join(DEFAULT_VARIANTS)})",
    )
    parser.add_argument(
        "--baselines-only", action="store_true", help="only the baselines (no training)"
    )
    parser.add_argument(
        "--from",
        dest="from_record",
        type=Path,
        default=None,
        help="re-summarise the variants of an earlier record (baselines and parameter counts "
        "recomputed, no training)",
    )
    add_run_options(parser, "tag")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the ablation; returns the exit status."""
    args = build_parser().parse_args(argv)
    names = [n.strip() for n in args.variants.split(",") if n.strip()]
    unknown = [n for n in names if n not in VARIANTS]
    if unknown or not names:
        print(f"error: unknown variant {unknown}; valid: {', '.join(VARIANTS)}", file=sys.stderr)
        return 2
    started = datetime.now()
    base = baselines(args.overrides)
    if args.baselines_only:
        report("tag-baselines", args, started, baseline_lines(base), baselines=base)
        return 0
    if args.from_record is not None:
        from attnkit.fileio import read_json

        old = read_json(args.from_record, "benchmark record")
        results = {n: r for n, r in old["results"].items() if n in names}
        for r in results.values():
            r["train"].setdefault("parameters", parameters(r["config"]))
        extra = {"summarised_from": str(args.from_record), "runs_started": old.get("started")}
        report("tag", args, started, table(results, base), results=results, baselines=base, **extra)
        return 0
    runs = runs_folder(args, "tag")
    results = run_variants("tag", [VARIANTS[n] for n in names], runs, args.overrides)
    report("tag", args, started, table(results, base), results=results, baselines=base)
    return 0


__all__ = ["VARIANTS", "baselines", "main", "parameters", "table"]
