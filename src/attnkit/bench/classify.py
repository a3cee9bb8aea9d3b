"""What does squeeze-and-excitation buy? ResNet-20 vs SE-ResNet-20 on Fashion-MNIST, seeds.

Trains each architecture with the default recipe (``configs/classify_fmnist.yaml``) once per
seed, the same budget for all, tests each best-on-validation checkpoint on the official 10k
test images, and prints mean +/- sample std of the test accuracy per architecture, the SE
gain (difference of the means, with the spread of the per-seed differences), and what SE
costs: parameters and training time, as ratios to the plain network.

Runs go to ``<runs>/<arch>-seed<N>`` and are resumable (see :mod:`attnkit.bench.variants`);
results to ``<out>/classify-<timestamp>.json`` and ``<out>/classify-latest.json``.

Example:
    $ attnkit bench classify                              # 6 runs; hours on 2 CPU cores
    $ attnkit bench classify --seeds 0 --set train.epochs=1 --set data.train_limit=2000
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import datetime
from pathlib import Path

from attnkit.bench.report import mean_std
from attnkit.bench.variants import Variant, add_run_options, report, run_variants, runs_folder

DEFAULT_ARCHS = ("resnet20", "se_resnet20")


def variants(archs: list[str], seeds: list[int]) -> list[Variant]:
    """One variant per (seed, arch), seeds outermost so a cut-short run is still paired."""
    return [
        Variant(f"{arch}-seed{seed}", (f"model.arch={arch}", f"train.seed={seed}"))
        for seed in seeds
        for arch in archs
    ]


def summarize(results: dict[str, dict], archs: list[str], seeds: list[int], runs: Path) -> dict:
    """Per architecture: accuracies per seed, mean/std, params, seconds per epoch."""
    out: dict[str, dict] = {}
    for arch in archs:
        rs = [results[f"{arch}-seed{s}"] for s in seeds]
        acc = [100 * r["test"]["accuracy"] for r in rs]
        per_epoch = [r["train"]["train_seconds"] / max(r["train"]["epochs"], 1) for r in rs]
        meta = json.loads((runs / f"{arch}-seed{seeds[0]}" / "meta.json").read_text())
        out[arch] = {
            "test_accuracy": acc,
            "mean": mean_std(acc)[0],
            "std": mean_std(acc)[1],
            "params": meta["params"],
            "seconds_per_epoch": mean_std(per_epoch)[0],
            "images_per_second": mean_std([r["train"]["units_per_second"] for r in rs])[0],
        }
    return out


def table(summary: dict, seeds: list[int]) -> list[str]:
    lines = [
        f"{'arch':<13}{'params':>9}{'s/epoch':>9}{'img/s':>7}   test accuracy % "
        f"(seeds {','.join(map(str, seeds))})",
        "-" * 72,
    ]
    for arch, s in summary.items():
        per_seed = " ".join(f"{a:.2f}" for a in s["test_accuracy"])
        lines.append(
            f"{arch:<13}{s['params']:>9,}{s['seconds_per_epoch']:>9.1f}"
            f"{s['images_per_second']:>7.0f}   {s['mean']:.2f} +/- {s['std']:.2f}  ({per_seed})"
        )
    plain = {a: s for a, s in summary.items() if not a.startswith("se_")}
    for arch, s in summary.items():
        base = plain.get(arch.removeprefix("se_"))
        if not arch.startswith("se_") or base is None:
            continue
        diffs = [a - b for a, b in zip(s["test_accuracy"], base["test_accuracy"], strict=True)]
        gain, spread = mean_std(diffs)
        lines.append(
            f"SE gain ({arch} - {arch.removeprefix('se_')}): {gain:+.2f} points "
            f"(per-seed differences {' '.join(f'{d:+.2f}' for d in diffs)}, std {spread:.2f}); "
            f"params x{s['params'] / base['params']:.3f}, "
            f"time per epoch x{s['seconds_per_epoch'] / base['seconds_per_epoch']:.2f}"
        )
    return lines


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="attnkit bench classify", description=__doc__.split("\n")[0]
    )
    parser.add_argument(
        "--archs",
        default=",".join(DEFAULT_ARCHS),
        help=f"comma-separated (default {','.join(DEFAULT_ARCHS)})",
    )
    parser.add_argument("--seeds", default="0,1,2", help="comma-separated seeds (default 0,1,2)")
    add_run_options(parser, "classify")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run every (arch, seed); returns the exit status."""
    from attnkit.tasks.classify import ARCHS

    args = build_parser().parse_args(argv)
    archs = [a.strip() for a in args.archs.split(",") if a.strip()]
    try:
        seeds = [int(s) for s in args.seeds.split(",") if s.strip()]
    except ValueError:
        seeds = []
    if not seeds or not archs or any(a not in ARCHS for a in archs):
        print(
            f"error: --archs from {', '.join(ARCHS)} and --seeds as integers, e.g. 0,1,2",
            file=sys.stderr,
        )
        return 2
    runs = runs_folder(args, "classify")
    started = datetime.now()
    results = run_variants("classify", variants(archs, seeds), runs, args.overrides)
    summary = summarize(results, archs, seeds, runs)
    report("classify", args, started, table(summary, seeds), summary=summary, results=results)
    return 0


__all__ = ["main", "summarize", "table", "variants"]
