"""Train and test several variants of one task's default config, resumably.

A quality benchmark (an ablation, a set of seeds) is a list of :class:`Variant`: a name and
config overrides on top of the task's ``configs/`` file. Each variant trains into
``<out>/<name>`` through :func:`attnkit.tasks.train` (which scores the best checkpoint on the
test split, once). A finished variant leaves ``result.json`` and is not trained again; an
interrupted one resumes exactly from its ``last/`` checkpoint. So a long benchmark can be
stopped and restarted at any point and loses at most the step in flight.

Example:
    >>> [v.name for v in (Variant("full"), Variant("no_crf", ("model.crf=false",)))]
    ['full', 'no_crf']
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from attnkit.bench.report import DEFAULT_OUT, publish
from attnkit.config import load_config, to_dict
from attnkit.fileio import read_json, write_json
from attnkit.paths import repo_configs_dir, runs_dir
from attnkit.tasks import get_task, train

RESULT_FILE = "result.json"


@dataclass(frozen=True)
class Variant:
    """One run of a benchmark: a folder name, its config overrides (``key=value``) and the
    ``configs/`` file they apply to (None: the task's default)."""

    name: str
    overrides: tuple[str, ...] = ()
    config: str | None = None


def run_variant(task_name: str, variant: Variant, out: Path, common: Sequence[str] = ()) -> dict:
    """Train (or resume) one variant and test it; returns its ``result.json`` content.

    The result holds the resolved config, the training summary (``train``) and the test-split
    metrics (``test``).
    """
    run_dir = out / variant.name
    done = run_dir / RESULT_FILE
    if done.is_file():
        return json.loads(done.read_text())
    task = get_task(task_name)
    base = repo_configs_dir() / (variant.config or task.default_config)
    cfg = load_config(task.config_class, base, [*common, *variant.overrides])
    resume = (run_dir / "last").is_dir()
    summary = train(task, cfg, run_dir, resume=resume)
    test = read_json(run_dir / "eval_test.json", "test metrics")  # written once, by train
    summary = {k: v for k, v in summary.items() if not k.startswith("test_")}
    result = {
        "variant": variant.name,
        "meta": read_json(run_dir / "meta.json", "run metadata"),
        "config_file": base.name,
        "overrides": [*common, *variant.overrides],
        "config": to_dict(cfg),
        "train": summary,
        "test": test,
    }
    write_json(done, result)
    return result


def run_variants(
    task_name: str,
    variants: Sequence[Variant],
    out: Path,
    common: Sequence[str] = (),
    *,
    log: Callable[[str], None] = print,
) -> dict[str, dict]:
    """:func:`run_variant` for each variant in order; returns ``{name: result}``."""
    results = {}
    for i, variant in enumerate(variants, 1):
        cached = (out / variant.name / RESULT_FILE).is_file()
        log(
            f"[{i}/{len(variants)}] {variant.name} {' '.join(variant.overrides)}"
            + (" (done earlier: reusing its result)" if cached else "")
        )
        results[variant.name] = run_variant(task_name, variant, out, common)
    return results


def add_run_options(parser: argparse.ArgumentParser, bench: str) -> None:
    """The options every quality benchmark takes: ``--set``, ``--runs``, ``--out``."""
    parser.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        help="config override for every run, key=value (repeatable)",
    )
    parser.add_argument(
        "--runs", type=Path, default=None, help=f"run folders (default: cache/runs/bench-{bench})"
    )
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="folder for the JSON")


def runs_folder(args: argparse.Namespace, bench: str) -> Path:
    """``--runs`` or ``cache/runs/bench-<bench>``."""
    return args.runs or runs_dir() / f"bench-{bench}"


def report(
    bench: str, args: argparse.Namespace, started: datetime, lines: list[str], **record
) -> Path:
    """Print the table ``lines`` and write them with ``record`` as the benchmark's JSON."""
    return publish(
        bench,
        args.out,
        started,
        lines,
        common_overrides=args.overrides,
        runs=str(runs_folder(args, bench)),
        **record,
    )


__all__ = [
    "RESULT_FILE",
    "Variant",
    "add_run_options",
    "report",
    "run_variant",
    "run_variants",
    "runs_folder",
]
