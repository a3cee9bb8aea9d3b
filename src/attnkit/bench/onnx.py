"""The exported classifier in onnxruntime vs the same network in PyTorch (eager, no_grad).

Exports a classify run (or, without ``--model``, a freshly initialised network of
``--arch``: the time does not depend on the weights) with :func:`attnkit.export.export_onnx`,
then times inference of both, interleaved (AB BA ...) in this process, on the same random
batches, with the same number of threads. Prints min/median/max per batch size and the
ratio onnxruntime / PyTorch (below 1 = onnxruntime faster), and the largest logit
difference (with ``--model``: also both networks' accuracy on the run's test split and how
often their top-1 classes agree); writes ``<out>/onnx-<timestamp>.json`` and
``<out>/onnx-latest.json``.

Example:
    $ attnkit bench onnx                       # SE-ResNet-20, batches 1, 64, 500
    $ attnkit bench onnx --model ~/.cache/attnkit/runs/classify --batches 1,8
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
    parser = argparse.ArgumentParser(prog="attnkit bench onnx", description=__doc__.split("\n")[0])
    parser.add_argument(
        "--model", type=Path, default=None, help="classify run (default: untrained)"
    )
    parser.add_argument("--arch", default="se_resnet20", help="network when no --model is given")
    parser.add_argument(
        "--batches", type=report.positive_ints, default="1,64,500", help="comma-separated sizes"
    )
    parser.add_argument("--repeats", type=int, default=30, help="timed pairs per batch size")
    parser.add_argument("--warmup", type=int, default=3, help="untimed pairs first")
    parser.add_argument("--out", type=Path, default=report.DEFAULT_OUT, help="folder for the JSON")
    return parser


def _network(args: argparse.Namespace, run=None) -> torch.nn.Module:
    from attnkit.tasks.classify import ModelConfig, PixelClassifier, build_network

    if run is not None:
        model = run.model.cpu()
    else:
        torch.manual_seed(0)
        model = build_network(ModelConfig(arch=args.arch))
    return PixelClassifier(model.eval()).eval()


def test_agreement(run, net: torch.nn.Module, session) -> dict:
    """Top-1 accuracy of PyTorch and onnxruntime on the run's test split, and how often they
    agree."""
    from attnkit.data.images import load_images
    from attnkit.tasks.classify import predict_logits

    images, labels = load_images("test", run.config.data)
    pixels = images.float().div(255)[:, None]  # (N, 1, 28, 28) in [0, 1], the graph's input
    want = predict_logits(net.model, images)  # (N, K): the task's own path, uint8 in
    got = torch.cat(
        [
            torch.from_numpy(session.run(None, {"images": pixels[i : i + 500].numpy()})[0])
            for i in range(0, len(pixels), 500)
        ]
    )  # (N, K)
    ort_pred, torch_pred = got.argmax(-1), want.argmax(-1)
    return {
        "images": len(labels),
        "accuracy_onnxruntime": (ort_pred == labels).float().mean().item(),
        "accuracy_torch": (torch_pred == labels).float().mean().item(),
        "same_top1": int((ort_pred == torch_pred).sum()),
        "max_abs_logit_diff": (got - want).abs().max().item(),
    }


def run(args: argparse.Namespace, batches: list[int]) -> dict:
    """Export, check and time at each batch size; returns the JSON record."""
    import onnxruntime as ort

    from attnkit.export import export_onnx, inference_session, max_abs_diff, require_onnx
    from attnkit.tasks import open_run

    require_onnx()
    run = open_run(args.model, task="classify", device="cpu") if args.model else None
    net = _network(args, run)
    threads = torch.get_num_threads()
    with tempfile.TemporaryDirectory() as tmp:
        example = torch.rand(2, 1, 28, 28)
        path = export_onnx(net, example, Path(tmp) / "model.onnx", input_name="images")
        session = inference_session(path, threads=threads)
        gen = torch.Generator().manual_seed(0)
        check = torch.rand(64, 1, 28, 28, generator=gen)
        diff = max_abs_diff(path, net, check)
        test = test_agreement(run, net, session) if run is not None else None
        cases = []
        for batch in batches:
            x = torch.rand(batch, 1, 28, 28, generator=gen)  # (N, 1, 28, 28)
            feed = {"images": x.numpy()}

            def ours(feed=feed) -> None:
                session.run(None, feed)

            def peer(x=x) -> None:
                with torch.no_grad():
                    net(x)

            t_ort, t_torch = time_pair(ours, peer, warmup=args.warmup, repeats=args.repeats)
            med_ort, med_torch = statistics.median(t_ort), statistics.median(t_torch)
            cases.append(
                {
                    "batch": batch,
                    "onnxruntime_s": [min(t_ort), med_ort, max(t_ort)],
                    "torch_s": [min(t_torch), med_torch, max(t_torch)],
                    "ratio": med_ort / med_torch,
                    "images_per_s_onnxruntime": batch / med_ort,
                    "images_per_s_torch": batch / med_torch,
                }
            )
    return {
        "model": str(args.model) if args.model else f"{args.arch} (untrained)",
        "threads": threads,
        "max_abs_logit_diff": diff,
        "test_split": test,
        "onnxruntime": ort.__version__,
        "cases": cases,
    }


def table(record: dict) -> list[str]:
    lines = [
        f"{record['model']}, {record['threads']} threads; max |logit diff| "
        f"{record['max_abs_logit_diff']:.1e}; ratio = onnxruntime / PyTorch eager (median)",
        f"{'batch':>6} {'onnxruntime ms (min/med/max)':>30} {'PyTorch ms (min/med/max)':>28}"
        f" {'ratio':>6} {'img/s ort':>10} {'img/s torch':>11}",
    ]
    test = record.get("test_split")
    if test:
        lines.insert(
            1,
            f"test split, {test['images']:,} images: accuracy onnxruntime "
            f"{100 * test['accuracy_onnxruntime']:.2f}% / PyTorch "
            f"{100 * test['accuracy_torch']:.2f}%, same top-1 class for {test['same_top1']:,}, "
            f"max |logit diff| "
            f"{test['max_abs_logit_diff']:.1e}",
        )
    for c in record["cases"]:
        o = "/".join(f"{1e3 * t:.2f}" for t in c["onnxruntime_s"])
        t = "/".join(f"{1e3 * t:.2f}" for t in c["torch_s"])
        lines.append(
            f"{c['batch']:>6} {o:>30} {t:>28} {c['ratio']:>6.2f} "
            f"{c['images_per_s_onnxruntime']:>10.0f} {c['images_per_s_torch']:>11.0f}"
        )
    return lines


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; returns the exit status (0, 1 on a user error, 2 on bad options)."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:
        return int(exc.code or 0)
    batches = args.batches
    if args.repeats < 1 or args.warmup < 0:
        print("error: --repeats must be >= 1, --warmup >= 0", file=sys.stderr)
        return 2
    started = datetime.now()
    try:
        record = run(args, batches)
    except AttnkitError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    report.publish("onnx", args.out, started, table(record), **record)
    return 0


__all__ = ["main", "run", "table"]
