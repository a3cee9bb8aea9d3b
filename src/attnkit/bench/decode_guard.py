"""What the loop guard (``decode.max_repeat``) does: dev BLEU and looping outputs of trained
translation runs decoded with and without it (beam search, each run's other settings).

Example:
    $ attnkit bench decode-guard --model RUN [--model RUN ...] --max-repeat 0,3
"""

from __future__ import annotations

import argparse
import dataclasses
from datetime import datetime
from pathlib import Path

from attnkit.bench.report import DEFAULT_OUT, machine, write_results


def measure(run_dir: Path, settings: list[int], split: str) -> dict[str, dict]:
    """``{"max_repeat=N": {bleu, chrf, looping_share}}`` for each setting."""
    from attnkit.tasks import open_run

    run = open_run(run_dir, task="translate")
    out = {}
    for max_repeat in settings:
        run.config.decode = dataclasses.replace(run.config.decode, max_repeat=max_repeat)
        metrics = run.task.evaluate(run, split)
        out[f"max_repeat={max_repeat}"] = {
            k: metrics[k] for k in ("bleu", "chrf", "looping_share", "sentences")
        }
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="attnkit bench decode-guard", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--model", type=Path, action="append", required=True, help="a run")
    parser.add_argument("--max-repeat", default="0,3", help="settings to compare (0 = off)")
    parser.add_argument("--split", default="dev", help="dev (the default) or test")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="folder for the JSON")
    args = parser.parse_args(argv)
    settings = [int(x) for x in args.max_repeat.split(",")]
    started = datetime.now()
    runs = {}
    for run_dir in args.model:
        runs[run_dir.name] = measure(run_dir, settings, args.split)
        print(run_dir.name, runs[run_dir.name], flush=True)
    record = {"benchmark": "decode-guard", "machine": machine(), "split": args.split, "runs": runs}
    print(f"wrote {write_results(args.out, 'decode-guard', record, started)}")
    return 0


__all__ = ["main", "measure"]
