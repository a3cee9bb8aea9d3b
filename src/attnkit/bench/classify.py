"""What does squeeze-and-excitation buy? ResNet-20 vs SE-ResNet-20 on Fashion-MNIST, seeds.

Trains each architecture with the default recipe (``configs/classify_fmnist.yaml``) once per
seed, the same budget for all, tests each best-on-validation checkpoint on the official 10k
test images, and prints mean +/- sample std of the test accuracy per architecture, the SE
gain (difference of the means, with the spread of the per-seed differences), and what SE
costs: parameters and training time, as ratios to the plain network. The time ratio comes
from training steps of both networks timed in one process, interleaved (AB BA ...), so it
does not depend on what else the machine ran while the seeds trained.

Runs go to ``<runs>/<arch>-seed<N>`` and are resumable (see :mod:`attnkit.bench.variants`);
results to ``<out>/classify-<timestamp>.json`` and ``<out>/classify-latest.json``.

Example:
    $ attnkit bench classify                              # 6 runs; hours on 2 CPU cores
    $ attnkit bench classify --seeds 0 --set train.epochs=1 --set data.train_limit=2000
"""

from __future__ import annotations

import argparse
import statistics
import sys
from datetime import datetime
from pathlib import Path

import torch

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


def summarize(results: dict[str, dict], archs: list[str], seeds: list[int]) -> dict:
    """Per architecture: accuracies per seed, mean/std, params, seconds per epoch."""
    out: dict[str, dict] = {}
    for arch in archs:
        rs = [results[f"{arch}-seed{s}"] for s in seeds]
        acc = [100 * r["test"]["accuracy"] for r in rs]
        per_epoch = [r["train"]["train_seconds"] / max(r["train"]["epochs"], 1) for r in rs]
        val = [100 * r["train"]["best_accuracy"] for r in rs]  # what picked each checkpoint
        out[arch] = {
            "test_accuracy": acc,
            "mean": mean_std(acc)[0],
            "std": mean_std(acc)[1],
            "validation_accuracy": val,
            "validation_mean": mean_std(val)[0],
            "params": rs[0]["train"].get("parameters") or rs[0].get("meta", {}).get("parameters"),
            "epochs": rs[0]["config"]["train"]["epochs"],
            "seconds_per_epoch": mean_std(per_epoch)[0],
            "images_per_second": mean_std([r["train"]["units_per_second"] for r in rs])[0],
        }
    return out


def step_times(archs: list[str], run_config: dict, *, repeats: int) -> dict[str, list[float]]:
    """Seconds per training step (forward, backward, SGD) of each plain/SE pair in ``archs``.

    Both networks of a pair are timed in this process, interleaved, on the same random
    28x28 batch, with the batch size, bf16 and channels-last settings of ``run_config`` (the
    resolved config of a benchmark run; only ``model.arch`` differs between the networks).
    """
    from attnkit.bench.timing import time_pair
    from attnkit.config import from_dict
    from attnkit.tasks.classify import ModelConfig, build_network
    from attnkit.training import resolve_bf16

    bf16 = resolve_bf16(run_config["train"]["bf16"], torch.device("cpu"))
    batch_size = run_config["data"]["batch_size"]
    gen = torch.Generator().manual_seed(0)
    x = torch.rand(batch_size, 1, 28, 28, generator=gen)  # (B, 1, 28, 28)
    y = torch.randint(0, 10, (batch_size,), generator=gen)  # (B,)
    if run_config["model"]["channels_last"]:
        x = x.contiguous(memory_format=torch.channels_last)

    def stepper(arch: str):
        torch.manual_seed(0)
        model_cfg = from_dict(ModelConfig, {**run_config["model"], "arch": arch}, "model")
        model = build_network(model_cfg).train()
        opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)

        def step() -> None:
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
                loss = torch.nn.functional.cross_entropy(model(x).float(), y)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()

        return step

    times: dict[str, list[float]] = {}
    for arch in archs:
        plain = arch.removeprefix("se_")
        if arch.startswith("se_") and plain in archs:
            times[arch], times[plain] = time_pair(
                stepper(arch), stepper(plain), warmup=2, repeats=repeats
            )
    return times


def compare(summary: dict) -> dict[str, dict]:
    """What SE changes, per SE architecture whose plain twin ran: gain and costs."""
    out = {}
    for arch, s in summary.items():
        base = summary.get(arch.removeprefix("se_"))
        if not arch.startswith("se_") or base is None:
            continue
        diffs = [a - b for a, b in zip(s["test_accuracy"], base["test_accuracy"], strict=True)]
        gain, spread = mean_std(diffs)
        row = {
            "plain": arch.removeprefix("se_"),
            "gain": gain,
            "per_seed_gain": diffs,
            "gain_std": spread,
            "validation_gain": s["validation_mean"] - base["validation_mean"],
            "extra_params": s["params"] - base["params"],
            "params_ratio": s["params"] / base["params"],
            # None when a run was too short to time (a tiny test run on a fast machine)
            "epoch_time_ratio": (
                s["seconds_per_epoch"] / base["seconds_per_epoch"]
                if base["seconds_per_epoch"] > 0
                else None
            ),
        }
        if "step_seconds" in s and "step_seconds" in base:
            row["step_time_ratio"] = s["step_seconds"] / base["step_seconds"]
            row["step_ms"] = [1000 * s["step_seconds"], 1000 * base["step_seconds"]]
        out[arch] = row
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
    for arch, c in compare(summary).items():
        epoch_ratio = c["epoch_time_ratio"]
        lines.append(
            f"SE gain ({arch} - {c['plain']}): {c['gain']:+.2f} points (per-seed differences "
            f"{' '.join(f'{d:+.2f}' for d in c['per_seed_gain'])}, std {c['gain_std']:.2f}); "
            f"params x{c['params_ratio']:.3f}; "
            "time per epoch of the seed runs "
            + (
                f"x{epoch_ratio:.2f}"
                if epoch_ratio is not None
                else "not measured (runs too short)"
            )
        )
        if "step_time_ratio" in c:
            lines.append(
                f"SE training-step time ({arch} / {c['plain']}, one process, interleaved, "
                f"median of {len(summary[arch]['step_seconds_all'])}): "
                f"{c['step_ms'][0]:.1f} / {c['step_ms'][1]:.1f} ms = x{c['step_time_ratio']:.3f}"
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
    parser.add_argument(
        "--from",
        dest="from_record",
        type=Path,
        default=None,
        help="summarise the runs stored in an earlier record (no training, no timing)",
    )
    parser.add_argument(
        "--timing-steps",
        type=int,
        default=10,
        help="interleaved training steps per network for the SE time ratio (0 = skip)",
    )
    add_run_options(parser, "classify")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run every (arch, seed); returns the exit status."""
    from attnkit.models.se_resnet import ARCHITECTURES as ARCHS

    args = build_parser().parse_args(argv)
    archs = [a.strip() for a in args.archs.split(",") if a.strip()]
    try:
        seeds = [int(s) for s in args.seeds.split(",") if s.strip()]
    except ValueError:
        seeds = []
    if not seeds or not archs or any(a not in ARCHS for a in archs) or args.timing_steps < 0:
        print(
            f"error: --archs from {', '.join(ARCHS)}, --seeds as integers (e.g. 0,1,2) "
            "and --timing-steps >= 0",
            file=sys.stderr,
        )
        return 2
    started = datetime.now()
    if args.from_record is not None:
        return _summarise_record(args, archs, seeds, started)
    runs = runs_folder(args, "classify")
    results = run_variants("classify", variants(archs, seeds), runs, args.overrides)
    summary = summarize(results, archs, seeds)
    if args.timing_steps > 0:
        run_config = results[f"{archs[0]}-seed{seeds[0]}"]["config"]
        times = step_times(archs, run_config, repeats=args.timing_steps)
        for arch, t in times.items():
            summary[arch].update(step_seconds=statistics.median(t), step_seconds_all=t)
    lines = table(summary, seeds)
    report(
        "classify",
        args,
        started,
        lines,
        summary=summary,
        se_effect=compare(summary),
        results=results,
    )
    return 0


def _summarise_record(args, archs: list[str], seeds: list[int], started: datetime) -> int:
    """``--from``: the summary of an earlier record's runs, recomputed by this code (its
    parameter counts and step timings carried over, since they need the networks)."""
    from attnkit.fileio import read_json

    old = read_json(args.from_record, "benchmark record")
    summary = summarize(old["results"], archs, seeds)
    for arch in archs:
        for key in ("params", "step_seconds", "step_seconds_all"):
            if summary[arch].get(key) is None and key in old["summary"][arch]:
                summary[arch][key] = old["summary"][arch][key]
    record = {
        "summarised_from": str(args.from_record),
        "runs_started": old.get("started"),
        "runs_machine": old.get("machine"),
        "summary": summary,
        "se_effect": compare(summary),
    }
    report("classify", args, started, table(summary, seeds), **record, results=old["results"])
    return 0


__all__ = ["compare", "main", "step_times", "summarize", "table", "variants"]
