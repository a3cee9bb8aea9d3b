"""What decoding with the output projection in bfloat16 (``decode.bf16``) costs and buys:
dev BLEU / chrF, sentences per second and the share of outputs that change, for trained
translation runs decoded with ``decode.bf16`` false and true (their other settings).

The dev split decides the default of the translate configs; the test split is not read.

Example:
    $ attnkit bench decode-precision --model RUN [--model RUN ...] --threads 1
"""

from __future__ import annotations

import argparse
from datetime import datetime
from pathlib import Path

import torch

from attnkit.bench.decode_guard import measure
from attnkit.bench.report import DEFAULT_OUT, publish


def compare(run_dir: Path, split: str) -> dict:
    """Scores of ``run_dir`` on ``split`` with ``decode.bf16`` false and true, and the share
    of outputs that differ between the two."""
    scores, outputs = measure(run_dir, [False, True], split, field="bf16")
    fp32, bf16 = outputs["bf16=False"], outputs["bf16=True"]
    changed = sum(a != b for a, b in zip(fp32, bf16, strict=True))
    return {
        **scores,
        "changed_share": round(changed / max(len(fp32), 1), 4),
        "speedup": round(
            scores["bf16=True"]["sentences_per_second"]
            / scores["bf16=False"]["sentences_per_second"],
            3,
        ),
    }


def table(runs: dict[str, dict]) -> list[str]:
    """One row per run: BLEU, chrF and sentences/s each way, the speed-up, outputs changed."""
    lines = [
        f"{'run':<14}{'BLEU fp32':>10}{'BLEU bf16':>10}{'chrF fp32':>10}{'chrF bf16':>10}"
        f"{'sent/s fp32':>12}{'sent/s bf16':>12}{'speed-up':>9}{'changed':>8}",
    ]
    lines.append("-" * len(lines[0]))
    for name, r in runs.items():
        a, b = r["bf16=False"], r["bf16=True"]
        lines.append(
            f"{name:<14}{a['bleu']:>10.2f}{b['bleu']:>10.2f}{a['chrf']:>10.2f}{b['chrf']:>10.2f}"
            f"{a['sentences_per_second']:>12.1f}{b['sentences_per_second']:>12.1f}"
            f"{r['speedup']:>9.2f}{r['changed_share']:>8.1%}"
        )
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="attnkit bench decode-precision", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--model", type=Path, action="append", required=True, help="a run")
    parser.add_argument("--split", default="dev", help="dev (the default) or test")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="folder for the JSON")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    started = datetime.now()
    runs = {}
    for run_dir in args.model:
        runs[run_dir.name] = compare(run_dir, args.split)
        print(run_dir.name, runs[run_dir.name], flush=True)
    record = {"split": args.split, "threads": args.threads, "runs": runs}
    publish("decode-precision", args.out, started, table(runs), **record)
    return 0


__all__ = ["compare", "main"]
