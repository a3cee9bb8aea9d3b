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


def measure(
    run_dir: Path, settings: list, split: str, field: str = "max_repeat"
) -> tuple[dict[str, dict], dict[str, list[str]]]:
    """``{"FIELD=VALUE": {bleu, chrf, looping_share, sentences, sentences_per_second}}`` of
    ``run_dir`` decoded on ``split`` with each value of ``decode.FIELD`` (its other settings
    as the run has them), and each setting's outputs."""
    from attnkit.tasks import open_run

    run = open_run(run_dir, task="translate")
    scores, outputs = {}, {}
    keys = ("bleu", "chrf", "looping_share", "sentences", "sentences_per_second")
    for value in settings:
        run.config.decode = dataclasses.replace(run.config.decode, **{field: value})
        metrics = run.task.evaluate(run, split)
        name = f"{field}={value}"
        scores[name] = {k: metrics[k] for k in keys}
        outputs[name] = (run.path / f"{split}.hyp.txt").read_text("utf-8").splitlines()
    return scores, outputs


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
        runs[run_dir.name] = measure(run_dir, settings, args.split)[0]
        print(run_dir.name, runs[run_dir.name], flush=True)
    record = {"benchmark": "decode-guard", "machine": machine(), "split": args.split, "runs": runs}
    print(f"wrote {write_results(args.out, 'decode-guard', record, started)}")
    return 0


__all__ = ["main", "measure"]
