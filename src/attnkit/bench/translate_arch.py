"""RNN + Bahdanau attention vs the Transformer, and the Transformer's gating ablation, at the
same time budget on the Bible (es -> en).

A wall-clock budget on a shared 2-core machine depends on whatever else runs, so each
variant's budget is turned into updates once, from speeds measured side by side:

    updates = budget_minutes x rnn_steps_per_minute x (RNN step time / variant step time)

``rnn_steps_per_minute`` anchors the scale: the updates of the 15-minute run of ``attnkit
bench translate-quality`` without placeholders (alone on the 2 cores, benchmarks/measured/
translate_quality.json; :func:`quiet_rnn_updates`) / 15. The step times are the median of
interleaved rounds of real training steps (forward, backward, AdamW; bf16 as the config
says) on the same batches, in one process and one thread, in CPU seconds
(``time.process_time``), so that other jobs on the machine do not inflate them; only their
ratio is used. Each variant then trains with ``train.max_steps`` (a deterministic run,
whatever the load; any thread count), picks its checkpoint on dev BLEU and is scored once
on test (beam 5).

================================  ================================================================
variant                           what
================================  ================================================================
rnn                               ``translate_es_en.yaml``: bi-GRU 256 + Bahdanau, no placeholders
transformer                       ``configs/translate_es_en_transformer.yaml``: 3+3 layers, SwiGLU
transformer_gelu                  the same with a GELU MLP of equal weights instead of SwiGLU
transformer_gated                 the same with the highway "jump" (``GatedResidual``) everywhere
transformer_lr1.5e-3_dropout0.1   the recipe search: learning rate and dropout set explicitly;
transformer_lr1.5e-3_dropout0     the default (lr 3e-3, no dropout) was chosen among these
transformer_lr3e-3_dropout0.1     three and itself on dev
rnn_placeholders                  the RNN with ``data.placeholder_rate=0.2`` (its default)
transformer_placeholders          the Transformer with ``data.placeholder_rate=0.2`` (its default)
================================  ================================================================

Example:
    $ attnkit bench translate-arch --variants rnn,transformer --budget-minutes 15
    $ attnkit bench translate-arch --variants transformer_gelu --budget-minutes 5 --threads 1
    $ attnkit bench translate-arch --variants transformer,transformer_gelu --seed 2
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from datetime import datetime
from pathlib import Path

import torch

from attnkit.bench.variants import Variant, add_run_options, report, run_variant, runs_folder
from attnkit.fileio import read_json, write_json

TIMING_FILE = "step_seconds.json"


ANCHOR_ROW = "budget15_no_placeholders"
"""The row of benchmarks/measured/translate_quality.json whose updates anchor the budgets: the
demo's RNN without placeholders, alone on the 2 cores for 15 minutes (the demo with them made
more updates in a later quiet run; the comparisons keep the budgets they were run with)."""


def quiet_rnn_updates() -> int:
    """The updates attnkit's RNN made in its 15-minute run alone on the 2 cores (the
    :data:`ANCHOR_ROW` of benchmarks/measured/translate_quality.json): the anchor of every
    budget in updates, here and in ``attnkit bench peers``."""
    from attnkit.paths import repo_measured_dir

    path = repo_measured_dir() / "translate_quality.json"
    results = read_json(path, "measured translation quality")["results"]
    return int(results[ANCHOR_ROW]["train"]["steps"])


TRANSFORMER = "translate_es_en_transformer.yaml"


NO_PLACEHOLDERS = "data.placeholder_rate=0"
"""The ablations compare models on the pairs without placeholders (both configs' default has
them since they won on dev: the ``*_placeholders`` rows)."""


def _recipe(lr: str, dropout: str) -> Variant:
    """The Transformer with a learning rate and dropout of its own, whatever the default."""
    name = f"transformer_lr{lr}_dropout{dropout}"
    overrides = (NO_PLACEHOLDERS, f"train.lr={float(lr)}", f"transformer.dropout={dropout}")
    return Variant(name, overrides, TRANSFORMER)


VARIANTS = {
    "rnn": Variant("rnn", (NO_PLACEHOLDERS,), "translate_es_en.yaml"),
    "transformer": Variant("transformer", (NO_PLACEHOLDERS,), TRANSFORMER),
    **{
        v.name: v
        for v in (_recipe("1.5e-3", "0.1"), _recipe("1.5e-3", "0"), _recipe("3e-3", "0.1"))
    },
    "transformer_gelu": Variant(
        "transformer_gelu", (NO_PLACEHOLDERS, "transformer.feed_forward=gelu"), TRANSFORMER
    ),
    "transformer_gated": Variant(
        "transformer_gated", (NO_PLACEHOLDERS, "transformer.residual=gated"), TRANSFORMER
    ),
    "rnn_placeholders": Variant(
        "rnn_placeholders", ("data.placeholder_rate=0.2",), "translate_es_en.yaml"
    ),
    "transformer_placeholders": Variant(
        "transformer_placeholders", ("data.placeholder_rate=0.2",), TRANSFORMER
    ),
}

SAME_MODEL = {
    "transformer_lr1.5e-3_dropout0": "transformer",
    "transformer_lr3e-3_dropout0.1": "transformer_lr1.5e-3_dropout0.1",
    "rnn_placeholders": "rnn",
    "transformer_placeholders": "transformer",
}
"""Variants that only change the training recipe or the data: timed as the model they train
(the default Transformer trains without dropout, as ``transformer_lr1.5e-3_dropout0``)."""


def step_seconds(
    variants: list[Variant], overrides: list[str], *, batches: int = 3, rounds: int = 3
) -> dict[str, float]:
    """Median CPU seconds per training step of each variant on the same real batches,
    interleaved (round r times every variant once). Run it with one thread: CPU time is then
    the step's cost whatever else the machine runs."""
    from attnkit.config import load_config
    from attnkit.paths import repo_configs_dir, runs_dir
    from attnkit.tasks import get_task
    from attnkit.training import seed_everything
    from attnkit.training.trainer import resolve_bf16

    task = get_task("translate")
    cfgs = {
        v.name: load_config(
            task.config_class, repo_configs_dir() / v.config, [*overrides, *v.overrides]
        )
        for v in variants
    }
    first = cfgs[variants[0].name]
    scratch = runs_dir() / "bench-translate-arch-timing"
    prepared = task.prepare(first, scratch, reuse=True)
    data = [b for _, b in zip(range(batches), prepared.batches(0), strict=False)]
    models, optims = {}, {}
    for name, cfg in cfgs.items():
        seed_everything(0)
        models[name] = task.build_model(cfg, prepared.assets).train()
        optims[name] = torch.optim.AdamW(models[name].parameters(), lr=1e-4)
    bf16 = resolve_bf16(first.train.bf16, torch.device("cpu"))

    def one_round(name: str) -> float:
        model, opt, cfg = models[name], optims[name], cfgs[name]
        t0 = time.process_time()  # CPU time: what other jobs on the machine cannot inflate
        for batch in data:
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
                loss, _ = task.loss(cfg, model, batch)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            opt.zero_grad(set_to_none=True)
        return (time.process_time() - t0) / len(data)

    for name in cfgs:  # warm-up
        one_round(name)
    times: dict[str, list[float]] = {name: [] for name in cfgs}
    for r in range(rounds):
        order = list(cfgs) if r % 2 == 0 else list(reversed(cfgs))
        for name in order:
            times[name].append(one_round(name))
    return {name: statistics.median(ts) for name, ts in times.items()}


def measured_once(path: Path, overrides: list[str], threads: int) -> dict[str, float]:
    """Every variant's step time, measured on the first call and kept in ``path``, so runs
    started later (or in parallel processes) get the same budgets. A variant added since is
    timed beside the RNN and scaled by the RNN's stored time (its ratio is what counts)."""
    stored = read_json(path, "step timings")["step_seconds"] if path.is_file() else {}
    missing = [v for n, v in VARIANTS.items() if n not in stored and n not in SAME_MODEL]
    if missing:
        torch.set_num_threads(threads)
        timed = step_seconds([VARIANTS["rnn"], *(v for v in missing if v.name != "rnn")], overrides)
        scale = stored["rnn"] / timed["rnn"] if stored else 1.0
        stored.update({name: s * scale for name, s in timed.items() if name not in stored})
        stored.update({name: stored[model] for name, model in SAME_MODEL.items()})
        write_json(path, {"step_seconds": stored, "threads": threads, "overrides": overrides})
    return stored


def budget_steps(seconds: dict[str, float], budget_minutes: float, rnn_rate: float) -> dict:
    """Updates per variant for the budget (see the module docstring)."""
    return {
        name: max(1, round(budget_minutes * rnn_rate * seconds["rnn"] / s))
        for name, s in seconds.items()
    }


def target_tokens_per_step(overrides: list[str], batches: int = 3) -> float:
    """Mean target tokens in the batches :func:`step_seconds` times."""
    from attnkit.config import load_config
    from attnkit.paths import repo_configs_dir, runs_dir
    from attnkit.tasks import get_task

    task = get_task("translate")
    cfg = load_config(task.config_class, repo_configs_dir() / VARIANTS["rnn"].config, overrides)
    prepared = task.prepare(cfg, runs_dir() / "bench-translate-arch-timing", reuse=True)
    data = [b for _, b in zip(range(batches), prepared.batches(0), strict=False)]
    return sum(int((b["tgt_out"] != 0).sum()) for b in data) / len(data)


def decode_speed(runs: dict[str, Path], sentences: int = 200) -> dict[str, dict[str, float]]:
    """Sentences per CPU second of each run on the first ``sentences`` test verses, greedy and
    beam 5 (one thread, CPU time, the runs interleaved)."""
    from attnkit.data import parallel
    from attnkit.tasks import open_run

    translators, sources = {}, {}
    for name, run_dir in runs.items():
        run = open_run(run_dir, task="translate", device="cpu")
        translators[name] = run.task.translator(run)
        pairs = parallel.load_split(run.config.data.corpus, "test")[:sentences]
        tr = translators[name]
        sources[name] = parallel.encode_pairs(pairs, tr.src_tok, tr.tgt_tok).src
    speed: dict[str, dict[str, float]] = {name: {} for name in runs}
    for mode, beam in (("greedy", 1), ("beam5", 5)):
        for name, tr in translators.items():
            search = tr.with_search(beam=beam)
            t0 = time.process_time()
            search.translate_ids(sources[name], greedy=beam == 1)
            speed[name][mode] = len(sources[name]) / (time.process_time() - t0)
    return speed


def table(
    results: dict[str, dict],
    seconds: dict[str, float],
    tokens: float,
    speed: dict[str, dict[str, float]],
) -> list[str]:
    head = (
        f"{'variant':<20}{'params':>8}{'CPU s/step':>11}{'tok/CPU s':>10}{'updates':>8}"
        f"{'dev BLEU':>9}{'test BLEU':>10}{'chrF':>7}{'greedy/s':>9}{'beam5/s':>8}"
    )
    lines = [head, "-" * len(head)]
    for name, r in results.items():
        lines.append(
            f"{name:<20}{r['meta']['parameters'] / 1e6:>7.2f}M{seconds[name]:>11.2f}"
            f"{tokens / seconds[name]:>10,.0f}{r['config']['train']['max_steps']:>8,}"
            f"{r['train']['best_bleu']:>9.2f}{r['test']['bleu']:>10.2f}{r['test']['chrf']:>7.2f}"
            f"{speed[name]['greedy']:>9.1f}{speed[name]['beam5']:>8.1f}"
        )
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="attnkit bench translate-arch", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--variants", default="rnn,transformer", help=", ".join(VARIANTS))
    parser.add_argument("--budget-minutes", type=float, default=15.0)
    parser.add_argument(
        "--rnn-steps-per-minute",
        type=float,
        default=None,
        help="the RNN's updates per budget minute (default: its quiet 15-minute run's / 15)",
    )
    parser.add_argument("--threads", type=int, default=None, help="train.threads of each run")
    parser.add_argument(
        "--timing-threads", type=int, default=1, help="threads while timing the steps"
    )
    parser.add_argument(
        "--seed",
        type=int,
        default=None,
        help="train.seed of every run, trained under <budget folder>/seed<N> with the same "
        "budgets (default: the configs' seed, 1, in the budget folder itself)",
    )
    add_run_options(parser, "translate-arch")
    args = parser.parse_args(argv)
    if args.rnn_steps_per_minute is None:
        args.rnn_steps_per_minute = quiet_rnn_updates() / 15
    names = [n.strip() for n in args.variants.split(",") if n.strip()]
    unknown = [n for n in names if n not in VARIANTS]
    if unknown:
        parser.error(f"unknown variants {unknown}; valid: {', '.join(VARIANTS)}")
    variants = [VARIANTS["rnn"], *(VARIANTS[n] for n in names if n != "rnn")]
    started = datetime.now()
    common = ["train.progress=false", *args.overrides]
    if args.threads:
        common.append(f"train.threads={args.threads}")
    budget_dir = runs_folder(args, "translate-arch") / f"budget{args.budget_minutes:g}"
    seconds = measured_once(budget_dir / TIMING_FILE, common, args.timing_threads)
    out = budget_dir
    if args.seed is not None:  # after the timing: the seed does not change a step's cost
        common.append(f"train.seed={args.seed}")
        out = budget_dir / f"seed{args.seed}"
    steps = budget_steps(seconds, args.budget_minutes, args.rnn_steps_per_minute)
    print("step seconds:", seconds, "updates:", steps, flush=True)
    results = {}
    for v in variants:
        if v.name not in names:
            continue
        budget = (f"train.max_steps={steps[v.name]}", "train.budget_minutes=null")
        results[v.name] = run_variant(
            "translate", Variant(v.name, (*v.overrides, *budget), v.config), out, common
        )
    torch.set_num_threads(args.timing_threads)
    tokens = target_tokens_per_step(common)
    speed = decode_speed({name: out / name for name in results})
    report(
        "translate-arch",
        args,
        started,
        table(results, seconds, tokens, speed),
        budget_minutes=args.budget_minutes,
        seed=args.seed,
        rnn_steps_per_minute=args.rnn_steps_per_minute,
        timing_threads=args.timing_threads,
        step_seconds=seconds,
        target_tokens_per_step=tokens,
        target_tokens_per_cpu_second={name: tokens / seconds[name] for name in results},
        sentences_per_cpu_second=speed,
        updates=steps,
        results=results,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())

__all__ = ["VARIANTS", "budget_steps", "decode_speed", "main", "quiet_rnn_updates", "step_seconds"]
