"""Translators exported to ONNX: parity with PyTorch on the test split, and speed side by side.

For each ``--model`` (a translate run, RNN or Transformer): exports it
(:func:`attnkit.tasks.translate.onnx_export.export_translator`, which checks dev sentences),
then on the run's test split

* decodes every sentence greedily with onnxruntime and with PyTorch and counts the outputs
  that differ (and scores both with the same sacrebleu call);
* compares log-probabilities and attention at every step of padded batches of the first
  ``--parity-sentences`` test sentences (PyTorch's greedy tokens drive both);
* times greedy and beam-5 decoding of the first ``--sentences`` test sentences, onnxruntime
  and PyTorch interleaved (AB BA ...), with the same number of threads, and reports
  sentences/s (min/median/max) and the time ratio onnxruntime / PyTorch (below 1 =
  onnxruntime faster).

Writes ``<out>/onnx-translate-<timestamp>.json`` and ``onnx-translate-latest.json``.

Example:
    $ attnkit bench onnx-translate --model RUN_RNN --model RUN_TRANSFORMER
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from datetime import datetime
from pathlib import Path

import torch

from attnkit.bench import report
from attnkit.bench.timing import time_pair
from attnkit.errors import AttnkitError


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="attnkit bench onnx-translate", description=__doc__.split("\n")[0]
    )
    parser.add_argument(
        "--model", type=Path, action="append", required=True, help="translate run (repeatable)"
    )
    parser.add_argument(
        "--sentences", type=report.positive_int, default=200, help="test sentences timed"
    )
    parser.add_argument(
        "--parity-sentences",
        type=report.positive_int,
        default=128,
        help="test sentences of the log-prob check",
    )
    parser.add_argument(
        "--repeats", type=report.positive_int, default=3, help="timed pairs per search"
    )
    parser.add_argument(
        "--threads", type=report.positive_int, default=1, help="threads of both runtimes"
    )
    parser.add_argument("--out", type=Path, default=report.DEFAULT_OUT, help="folder for the JSON")
    return parser


def _spread(values: list[float]) -> list[float]:
    return [min(values), statistics.median(values), max(values)]


def measure(run_dir: Path, args: argparse.Namespace) -> dict:
    """Export one run, check it on the test split and time both runtimes."""
    from attnkit.data import parallel
    from attnkit.metrics import bleu, chrf
    from attnkit.tasks import open_run
    from attnkit.tasks.translate import TASK
    from attnkit.tasks.translate.onnx_export import export_translator, parity
    from attnkit.tasks.translate.onnx_runtime import load_onnx_translator

    run = open_run(run_dir, task="translate", device="cpu")
    ours = TASK.translator(run)
    with tempfile.TemporaryDirectory() as tmp:
        exported = export_translator(run, tmp)
        onnx = load_onnx_translator(tmp, threads=args.threads)
        pairs = parallel.load_split(run.config.data.corpus, "test")
        masks = [ours.mask(src) for src, _ in pairs]
        ids = [ours.src_tok.encode(m.text, add_eos=True) for m in masks]
        outputs = {}
        for name, tr in (("onnxruntime", onnx), ("torch", ours)):
            hyps = tr.translate_ids(ids, greedy=True)
            outputs[name] = [
                m.unmask(tr.tgt_tok.decode(h[0].tokens)) for m, h in zip(masks, hyps, strict=True)
            ]
        refs = [tgt for _, tgt in pairs]
        differ = [i for i, (a, b) in enumerate(zip(*outputs.values(), strict=True)) if a != b]
        check = parity(run.model, onnx.model, ids[: args.parity_sentences], run.config.decode)
        timed = ids[: args.sentences]
        speed = {}
        for search, greedy in (("greedy", True), ("beam5", False)):
            o, t = onnx.with_search(beam=5), ours.with_search(beam=5)
            t_ort, t_torch = time_pair(
                lambda o=o, g=greedy: o.translate_ids(timed, greedy=g),
                lambda t=t, g=greedy: t.translate_ids(timed, greedy=g),
                warmup=0,
                repeats=args.repeats,
            )
            ratios = [a / b for a, b in zip(t_ort, t_torch, strict=True)]
            speed[search] = {
                "sentences_per_s_onnxruntime": _spread([len(timed) / s for s in t_ort]),
                "sentences_per_s_torch": _spread([len(timed) / s for s in t_torch]),
                "time_ratio_onnxruntime_over_torch": _spread(ratios),
            }
    return {
        "model": str(run_dir),
        "arch": run.config.arch,
        "parameters": run.parameters,
        "export": exported,
        "test_sentences": len(pairs),
        "greedy_outputs_differ": len(differ),
        "greedy_differ_examples": [
            {
                "source": pairs[i][0],
                "onnxruntime": outputs["onnxruntime"][i],
                "torch": outputs["torch"][i],
            }
            for i in differ[:3]
        ],
        "greedy_bleu": {k: round(bleu(v, refs), 2) for k, v in outputs.items()},
        "greedy_chrf": {k: round(chrf(v, refs), 2) for k, v in outputs.items()},
        "test_parity": check,
        "timed_sentences": len(timed),
        "speed": speed,
    }


def table(rows: list[dict], threads: int) -> list[str]:
    lines = [
        f"{threads} thread(s); ratio = onnxruntime time / PyTorch time (median; < 1: ONNX faster)",
        "arch        | greedy outputs differ | max |dlogp| | greedy sent/s ort / torch (ratio) "
        "| beam-5 sent/s ort / torch (ratio)",
    ]
    for r in rows:
        cells = []
        for search in ("greedy", "beam5"):
            s = r["speed"][search]
            cells.append(
                f"{s['sentences_per_s_onnxruntime'][1]:.1f} / {s['sentences_per_s_torch'][1]:.1f} "
                f"({s['time_ratio_onnxruntime_over_torch'][1]:.2f})"
            )
        lines.append(
            f"{r['arch']:<11} | {r['greedy_outputs_differ']:>5} of {r['test_sentences']:<11,} | "
            f"{r['test_parity']['max_abs_log_prob_diff']:.1e} | {cells[0]:<33} | {cells[1]}"
        )
    return lines


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; returns the exit status (0, 1 on a user error, 2 on bad options)."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:
        return int(exc.code or 0)
    torch.set_num_threads(args.threads)
    started = datetime.now()
    try:
        rows = [measure(path, args) for path in args.model]
    except AttnkitError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    report.publish(
        "onnx-translate", args.out, started, table(rows, args.threads),
        threads=args.threads, repeats=args.repeats, rows=rows,
    )  # fmt: skip
    return 0


__all__ = ["main", "measure", "table"]
