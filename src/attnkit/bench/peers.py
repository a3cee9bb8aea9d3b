"""attnkit beside JoeyNMT 2.3.0 in one harness: training speed, decoding speed, peak memory and
quality at the same budget, for the RNN and the Transformer.

Both toolkits build the same architectures at the same sizes (JoeyNMT through its own
``build_model``, :mod:`attnkit.bench.joeynmt_peer`): the RNN of
``configs/translate_es_en.yaml`` (bi-GRU 256, Bahdanau attention, input feeding) and the
Transformer of ``configs/translate_es_en_transformer.yaml`` (3+3 layers, width 256, 4 heads,
feed-forward 1,024), tied embeddings, one joint 4k BPE vocabulary; the same Bible batches
(the task's own, <= 6,000 tokens) and the same test split. Every measurement runs at one
thread, the two toolkits interleaved (AB BA ...), in CPU seconds (``time.process_time``: what
other jobs on the machine cannot inflate):

=========  ===================================================================================
part       what
=========  ===================================================================================
train      target tokens per CPU second of a training step (forward, backward, clipping,
           AdamW), attnkit as it trains here (bf16 where the CPU has it, ``train.bf16: auto``)
           and in float32, JoeyNMT in float32 (it turns half precision off on CPUs); the
           attnkit/JoeyNMT ratio of each interleaved pair of steps, min/median/max
decode     greedy and beam-5 sentences per CPU second on ``--sentences`` test verses, the same
           64-verse length-sorted batches and output limit (1.5 x source + 10; JoeyNMT takes
           the batch's largest), each toolkit's own search (attnkit.decoding with
           ``decode.bf16`` as attnkit's translate configs set it now, joeynmt.search) on its
           budget-trained model; chunks of verses interleaved, the
           per-chunk ratio min/median/max
rss        peak resident memory (``VmHWM``) of a fresh process training ``--rss-steps``
           steps on the same saved batches, each toolkit and architecture in its own process;
           again with glibc's mmap threshold fixed (:data:`FIXED_MMAP_THRESHOLD`): the live
           tensors' peak without the allocator's fragmentation, a diagnostic
quality    test BLEU and chrF at the 15-minute budget, by the same sacrebleu call on the same
           detokenized output (``tgt_tok.decode``): attnkit's ``budget15`` runs of
           ``attnkit bench translate-arch`` re-scored here with their own search (beam 5), and
           JoeyNMT trained by :func:`train_joeynmt` with its own recipe for that budget
=========  ===================================================================================

The budget in updates: attnkit's RNN made N updates in its quiet 15-minute run
(:func:`~attnkit.bench.translate_arch.quiet_rnn_updates`), so JoeyNMT gets
``N x (attnkit RNN CPU s/update / JoeyNMT CPU s/update)``, the step times
measured as ``attnkit bench translate-arch`` measures them (:func:`budget_updates`; kept in
``<runs>/budget.json``). JoeyNMT's training (:func:`train_joeynmt`) is a thin loop over
attnkit's batches that uses JoeyNMT's model loss, its optimizer / scheduler / gradient
clipping builders (``joeynmt.builders``) and its search; as its recipe says, it validates ten
times a run on dev loss (the 400 dev verses attnkit validates on), which picks the checkpoint
and drives the plateau schedule, and the checkpoint is scored once on test with its recipe's
beam 5 (length penalty alpha 1.0).

Example:
    $ attnkit bench peers --parts budget                  # ~2 minutes: JoeyNMT's updates
    $ attnkit bench peers --parts quality --archs rnn     # trains JoeyNMT's RNN (~30 minutes)
    $ attnkit bench peers                                 # every part (trained runs reused)
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import resource
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path

import torch

from attnkit.bench.joeynmt_peer import (
    PEER,
    RECIPES,
    import_joeynmt,
    joey_loss,
    joey_translate_ids,
    joeynmt_model,
)
from attnkit.bench.report import DEFAULT_OUT, publish
from attnkit.bench.translate_arch import quiet_rnn_updates
from attnkit.fileio import read_json, write_json

ARCHS = {"rnn": "translate_es_en.yaml", "transformer": "translate_es_en_transformer.yaml"}
PARTS = ("budget", "train", "decode", "rss", "quality")

DEFAULT_ATTNKIT_RUNS = "bench-translate-arch/budget15"
"""attnkit's runs at the budget, under the runs folder: ``rnn`` and ``transformer``."""


# ----- configs, data, models ----------------------------------------------------------------
def load_cfg(arch: str, overrides: list[str]):
    """attnkit's translate config of ``arch`` with ``overrides``, without placeholders."""
    from attnkit.config import load_config
    from attnkit.paths import repo_configs_dir
    from attnkit.tasks.translate import TASK

    # JoeyNMT has no placeholders: both toolkits train on the same pairs, without them
    no_placeholders = ["data.placeholder_rate=0", *overrides]
    return load_config(TASK.config_class, repo_configs_dir() / ARCHS[arch], no_placeholders)


def prepare(cfg, folder: Path, tokenizer_from: Path | None):
    """The task's data in ``folder`` (its prepared batches, dev split and tokenizers), with the
    tokenizers of the run ``tokenizer_from`` when given (the same pieces as that run)."""
    from attnkit.tasks.translate import TASK

    folder.mkdir(parents=True, exist_ok=True)
    if tokenizer_from is not None and not (folder / "tokenizer").exists():
        shutil.copytree(tokenizer_from / "tokenizer", folder / "tokenizer")
    return TASK.prepare(cfg, folder, reuse=True)


def first_batches(prepared, n: int) -> list[dict[str, torch.Tensor]]:
    """The first ``n`` training batches of epoch 0 (attnkit's first updates)."""
    return [b for _, b in zip(range(n), prepared.batches(0), strict=False)]


def attnkit_model(cfg, prepared) -> torch.nn.Module:
    from attnkit.tasks.translate import TASK
    from attnkit.training import seed_everything

    seed_everything(cfg.train.seed)
    return TASK.build_model(cfg, prepared.assets).train()


def joey_model(cfg, prepared) -> torch.nn.Module:
    from attnkit.training import seed_everything

    seed_everything(cfg.train.seed)
    return joeynmt_model(cfg, prepared.assets.tgt_tok.vocab_size).train()


def attnkit_stepper(cfg, model, bf16: bool) -> Callable[[dict], int]:
    """One attnkit training step (its loss, backward, clipping, AdamW) on a batch; returns
    the batch's target tokens."""
    from attnkit.tasks.translate import TASK

    opt = torch.optim.AdamW(model.parameters(), lr=cfg.train.lr)

    def step(batch: dict) -> int:
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            loss, n = TASK.loss(cfg, model, batch)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.train.grad_clip or 1e9)
        opt.step()
        opt.zero_grad(set_to_none=True)
        return n

    return step


def joey_stepper(arch: str, model) -> tuple[Callable[[dict], int], torch.optim.Optimizer]:
    """One JoeyNMT training step with its recipe's optimizer and gradient clipping (its
    builders), the loss normalised by target tokens, returning the batch's target tokens;
    and the optimizer (for a scheduler)."""
    import_joeynmt()
    from joeynmt.builders import build_gradient_clipper, build_optimizer

    training = RECIPES[arch].training
    opt = build_optimizer(training, model.parameters())
    clip = build_gradient_clipper(training)

    def step(batch: dict) -> int:
        loss, n = joey_loss(model, batch)
        (loss / n).backward()
        if clip is not None:
            clip(parameters=model.parameters())
        opt.step()
        model.zero_grad()
        return n

    return step, opt


def cpu_rounds(
    steps: dict[str, Callable[[dict], int]], batches: list[dict], rounds: int, warmup: int
) -> tuple[dict[str, list[float]], int]:
    """CPU seconds per step of each stepper on the same ``batches``: ``warmup`` untimed steps
    each, then ``rounds`` passes over ``batches``, the steppers interleaved (their order
    reversed every other batch): one time per (pass, batch) each. Also the target tokens of
    one pass."""
    times: dict[str, list[float]] = {name: [] for name in steps}
    for batch in batches[:warmup]:
        for step in steps.values():
            step(batch)
    for k in range(rounds * len(batches)):
        batch = batches[k % len(batches)]
        for name in list(steps)[:: -1 if k % 2 else 1]:
            t0 = time.process_time()
            steps[name](batch)
            times[name].append(time.process_time() - t0)
    return times, sum(int((b["tgt_out"] != 0).sum()) for b in batches)


def ratio_stats(ours: list[float], peer: list[float]) -> dict[str, float]:
    """min / median / max of peer time / our time per pair (> 1: attnkit is faster).

    Example:
        >>> ratio_stats([1.0, 2.0, 1.0], [2.0, 2.0, 3.0])
        {'min': 1.0, 'median': 2.0, 'max': 3.0}
    """
    r = [p / o for o, p in zip(ours, peer, strict=True)]
    return {"min": min(r), "median": statistics.median(r), "max": max(r)}


# ----- budget -------------------------------------------------------------------------------
def budget_updates(
    folder: Path,
    overrides: list[str],
    tokenizer_from: Path | None,
    *,
    batches: int = 3,
    rounds: int = 3,
) -> dict:
    """JoeyNMT's updates per architecture at attnkit's RNN budget (see the module docstring),
    measured on the first call and kept in ``folder/budget.json``."""
    from attnkit.training.trainer import resolve_bf16

    path = folder / "budget.json"
    rnn_updates = quiet_rnn_updates()
    if path.is_file():
        stored = read_json(path, "JoeyNMT's budget")
        if stored.get("attnkit_rnn_updates") == rnn_updates:  # else: another anchor, remeasure
            return stored
    torch.set_num_threads(1)
    cfg = {arch: load_cfg(arch, overrides) for arch in ARCHS}
    prepared = prepare(cfg["rnn"], folder / "data", tokenizer_from)
    data = first_batches(prepared, batches)
    bf16 = resolve_bf16(cfg["rnn"].train.bf16, torch.device("cpu"))
    steps = {"attnkit_rnn": attnkit_stepper(cfg["rnn"], attnkit_model(cfg["rnn"], prepared), bf16)}
    for arch in ARCHS:
        steps[f"joeynmt_{arch}"] = joey_stepper(arch, joey_model(cfg[arch], prepared))[0]
    times, _ = cpu_rounds(steps, data, rounds, warmup=batches)
    seconds = {name: statistics.median(ts) for name, ts in times.items()}
    record = {
        "attnkit_rnn_updates": rnn_updates,
        "cpu_seconds_per_update": seconds,
        "attnkit_rnn_bf16": bf16,
        "updates": {
            arch: max(1, round(rnn_updates * seconds["attnkit_rnn"] / seconds[f"joeynmt_{arch}"]))
            for arch in ARCHS
        },
        "batches": batches,
        "rounds": rounds,
    }
    write_json(path, record)
    return record


# ----- JoeyNMT at the budget ----------------------------------------------------------------
def _epochs(prepared) -> Iterator[dict]:
    epoch = 0
    while True:
        yield from prepared.batches(epoch)
        epoch += 1


def dev_loss(model, prepared, cfg) -> float:
    """JoeyNMT's validation loss (its model loss per target token, teacher forcing) on the dev
    verses attnkit validates on, batched as attnkit batches them."""
    from attnkit.data import parallel
    from attnkit.data.batching import CollatedBatches, token_batches

    dev = prepared.dev.dev
    groups = token_batches(dev.lengths(), cfg.data.max_tokens, shuffle=False, seed=0, epoch=0)
    model.eval()
    total, count = 0.0, 0
    with torch.no_grad():
        for batch in CollatedBatches(groups, lambda idx: parallel.collate_pairs(dev, idx)):
            loss, n = joey_loss(model, batch)
            total, count = total + loss.item(), count + n
    return total / max(count, 1)


def train_joeynmt(
    arch: str, updates: int, folder: Path, overrides: list[str], tokenizer_from: Path | None
) -> dict:
    """Train JoeyNMT's ``arch`` for ``updates`` updates with its recipe (:data:`RECIPES`) over
    attnkit's batches in ``folder`` and score it on test; the result (also
    ``folder/result.json``, reused when there)."""
    from attnkit.decoding.batched import DecodeConfig

    done = folder / "result.json"
    if done.is_file():
        return read_json(done, "JoeyNMT run")
    import_joeynmt()
    from joeynmt.builders import build_scheduler

    torch.set_num_threads(1)
    cfg = load_cfg(arch, overrides)
    prepared = prepare(cfg, folder, tokenizer_from)
    model = joey_model(cfg, prepared)
    recipe = RECIPES[arch]
    training = recipe.training_for(updates)
    step_fn, optimizer = joey_stepper(arch, model)
    scheduler, step_at = build_scheduler(training, optimizer, "min", 0)  # dev loss
    search = DecodeConfig(
        **{**vars(cfg.decode), "beam_size": recipe.beam_size, "alpha": recipe.beam_alpha}
    )
    history, best, t0 = [], float("inf"), time.perf_counter()
    batches = _epochs(prepared)
    trained = folder / "history.json"  # training done, scoring not: only score again
    if trained.is_file():
        history = read_json(trained, "JoeyNMT training history")
        updates, best = 0, min(h["dev_loss"] for h in history)
    for step in range(1, updates + 1):
        model.train()
        step_fn(next(batches))
        if step_at == "step":
            scheduler.step(step - 1)
        if step % training["validation_freq"] and step != updates:
            continue
        loss = dev_loss(model, prepared, cfg)
        lr = optimizer.param_groups[0]["lr"]
        minutes = (time.perf_counter() - t0) / 60
        history.append({"step": step, "dev_loss": loss, "lr": lr, "minutes": minutes})
        print(f"[joeynmt {arch}] step {step}/{updates} dev loss {loss:.4f} lr {lr:.2e}", flush=True)
        if loss < best:
            best = loss
            torch.save(model.state_dict(), folder / "best.pt")
        if step_at == "validation":
            scheduler.step(metrics=loss)
        if optimizer.param_groups[0]["lr"] < training["learning_rate_min"]:
            break  # JoeyNMT stops when the plateau schedule has gone below its minimum
    write_json(trained, history)
    model.load_state_dict(torch.load(folder / "best.pt", weights_only=True))
    test = score_test(lambda src: joey_translate_ids(model, src, search), prepared.assets, cfg)
    result = {
        "arch": arch,
        "updates": history[-1]["step"],
        "recipe": recipe.source,
        "training": training,
        "decode": {"beam_size": search.beam_size, "alpha": search.alpha},
        "parameters": sum(p.numel() for p in model.parameters()),
        "history": history,
        "best_dev_loss": best,
        "best_step": min(history, key=lambda h: h["dev_loss"])["step"],
        "train_minutes": history[-1]["minutes"] if history else 0.0,
        "test": test,
    }
    write_json(done, result)
    return result


def score_test(translate: Callable[[list[list[int]]], list[list[int]]], assets, cfg) -> dict:
    """Test BLEU and chrF of ``translate`` (encoded sources -> output ids) on the corpus' test
    split, detokenized by the target tokenizer (the same sacrebleu call for both toolkits)."""
    from attnkit.data import parallel
    from attnkit.metrics import bleu, chrf

    pairs = parallel.load_split(cfg.data.corpus, "test")
    data = parallel.encode_pairs(pairs, assets.src_tok, assets.tgt_tok)
    texts = [assets.tgt_tok.decode(h) for h in translate(data.src)]
    return {
        "bleu": round(bleu(texts, data.refs), 2),
        "chrf": round(chrf(texts, data.refs), 2),
        "sentences": len(texts),
    }


def attnkit_translator(run_dir: Path, bf16: bool | str):
    """An attnkit run and its translator (its own search), decoding with ``decode.bf16`` as
    attnkit's config ships it now (``bf16``) whatever the run was trained with."""
    from attnkit.tasks import open_run

    run = open_run(run_dir, task="translate", device="cpu")
    tr = run.task.translator(run)
    return run, dataclasses.replace(tr, decode=dataclasses.replace(tr.decode, bf16=bf16))


def attnkit_quality(run_dir: Path, bf16: bool | str) -> dict:
    """An attnkit run's test BLEU / chrF by :func:`score_test`, with its own search."""
    from attnkit.training.trainer import resolve_bf16

    run, tr = attnkit_translator(run_dir, bf16)
    test = score_test(
        lambda src: [h[0].tokens for h in tr.translate_ids(src)], run.assets, run.config
    )
    return {
        "updates": run.config.train.max_steps,
        "parameters": sum(p.numel() for p in run.model.parameters()),
        "decode": {
            "beam_size": tr.decode.beam_size,
            "alpha": tr.decode.alpha,
            "bf16": resolve_bf16(tr.decode.bf16, torch.device("cpu")),
        },
        "test": test,
    }


# ----- speed and memory --------------------------------------------------------------------
def train_speed(cfg, prepared, arch: str, batches: list[dict], bf16: bool) -> dict:
    """Target tokens per CPU second of attnkit's and JoeyNMT's training steps on ``batches``
    (one interleaved pass after one warm-up step), and the per-step ratio."""
    steps = {
        "attnkit": attnkit_stepper(cfg, attnkit_model(cfg, prepared), bf16),
        "joeynmt": joey_stepper(arch, joey_model(cfg, prepared))[0],
    }
    times, tokens = cpu_rounds(steps, batches[1:], 1, warmup=1)
    rate = {name: tokens / sum(ts) for name, ts in times.items()}
    return {
        "attnkit_dtype": "bfloat16" if bf16 else "float32",
        "joeynmt_dtype": "float32",
        "attnkit_tokens_per_s": rate["attnkit"],
        "joeynmt_tokens_per_s": rate["joeynmt"],
        "ratio": ratio_stats(times["attnkit"], times["joeynmt"]),
        "steps": len(batches) - 1,
    }


def decode_speed(
    run_dir: Path, arch: str, joey, sentences: int, chunk: int, bf16: bool | str
) -> dict:
    """Greedy and beam-5 sentences per CPU second of an attnkit run (``decode.bf16`` =
    ``bf16``) and a JoeyNMT model on the first ``sentences`` test verses, chunks of ``chunk``
    verses interleaved."""
    from attnkit.data import parallel

    run, tr = attnkit_translator(run_dir, bf16)
    pairs = parallel.load_split(run.config.data.corpus, "test")[:sentences]
    src = parallel.encode_pairs(pairs, tr.src_tok, tr.tgt_tok).src
    chunks = [src[i : i + chunk] for i in range(0, len(src), chunk)]
    out = {}
    for mode, beam in (("greedy", 1), ("beam5", 5)):
        ours = tr.with_search(beam=beam)
        peer_cfg = dataclasses.replace(ours.decode, alpha=RECIPES[arch].beam_alpha)
        times: dict[str, list[float]] = {"attnkit": [], "joeynmt": []}
        for k, part in enumerate(chunks):
            for name in ("attnkit", "joeynmt")[:: -1 if k % 2 else 1]:
                t0 = time.process_time()
                if name == "attnkit":
                    ours.translate_ids(part, greedy=beam == 1)
                else:
                    joey_translate_ids(joey, part, peer_cfg, greedy=beam == 1)
                times[name].append(time.process_time() - t0)
        out[mode] = {
            "attnkit_sentences_per_s": len(src) / sum(times["attnkit"]),
            "joeynmt_sentences_per_s": len(src) / sum(times["joeynmt"]),
            "ratio": ratio_stats(times["attnkit"], times["joeynmt"]),
            "chunks": len(chunks),
        }
    out["sentences"] = len(src)
    return out


FIXED_MMAP_THRESHOLD = {"MALLOC_MMAP_THRESHOLD_": "131072"}
"""glibc's mmap threshold fixed at its 128 KiB start: every tensor above it goes back to the
system when freed, so a process' peak is its live tensors' (the allocator's fragmentation
left out); 30-40% slower, a diagnostic only."""


def peak_rss(
    toolkit: str, arch: str, batches_file: Path, overrides: list[str], env: dict | None = None
) -> float:
    """Peak resident MiB of a fresh process that trains ``toolkit``'s ``arch`` on the batches
    saved in ``batches_file`` (:func:`_rss_child`), with ``env`` added to its environment."""
    cmd = [
        sys.executable,
        "-m",
        "attnkit.bench.peers",
        "--rss-child",
        toolkit,
        arch,
        str(batches_file),
    ]
    for o in overrides:
        cmd += ["--set", o]
    environ = None if env is None else {**os.environ, **env}
    done = subprocess.run(cmd, capture_output=True, text=True, check=False, env=environ)
    if done.returncode:
        raise RuntimeError(f"{' '.join(cmd)} failed:\n{done.stderr[-2000:]}")
    return float(done.stdout.strip().splitlines()[-1])


def _rss_child(toolkit: str, arch: str, batches_file: Path, overrides: list[str]) -> int:
    """Train on the saved batches and print this process' peak RSS in MiB."""
    import types

    from attnkit.training.trainer import resolve_bf16

    torch.set_num_threads(1)
    saved = torch.load(batches_file, weights_only=True)
    cfg = load_cfg(arch, overrides)
    tok = types.SimpleNamespace(vocab_size=saved["vocab_size"])
    prepared = types.SimpleNamespace(assets=types.SimpleNamespace(src_tok=tok, tgt_tok=tok))
    if toolkit == "attnkit":
        bf16 = resolve_bf16(cfg.train.bf16, torch.device("cpu"))
        step = attnkit_stepper(cfg, attnkit_model(cfg, prepared), bf16)
    else:
        step = joey_stepper(arch, joey_model(cfg, prepared))[0]
    for batch in saved["batches"]:
        step(batch)
    print(_peak_mib())
    return 0


def _peak_mib() -> float:
    """This process' peak resident MiB: ``VmHWM`` (Linux), else ``ru_maxrss``. Linux keeps a
    process' ``ru_maxrss`` across fork and exec, so a child of a large parent reports the
    parent's peak there; ``VmHWM`` belongs to the child's own address space."""
    try:
        with open("/proc/self/status") as f:
            return next(int(line.split()[1]) for line in f if line.startswith("VmHWM:")) / 1024
    except (OSError, StopIteration):
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def load_joey(arch: str, folder: Path, cfg, vocab_size: int):
    """JoeyNMT's budget-trained ``arch`` from ``folder/best.pt``."""
    model = joeynmt_model(cfg, vocab_size)
    model.load_state_dict(torch.load(folder / "best.pt", weights_only=True))
    return model.eval()


# ----- command line -------------------------------------------------------------------------
def _names(text: str, valid) -> list[str]:
    names = [n.strip() for n in text.split(",") if n.strip()]
    bad = [n for n in names if n not in valid]
    if bad or not names:
        raise argparse.ArgumentTypeError(f"expected some of {', '.join(valid)}, got {text!r}")
    return names


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="attnkit bench peers", description=__doc__.split("\n")[0])
    parser.add_argument(
        "--parts", type=lambda t: _names(t, PARTS), default=list(PARTS), help=",".join(PARTS)
    )
    parser.add_argument(
        "--archs", type=lambda t: _names(t, ARCHS), default=list(ARCHS), help=",".join(ARCHS)
    )
    parser.add_argument(
        "--runs",
        type=Path,
        default=None,
        help="JoeyNMT's runs and the budget (default: <runs>/bench-peers)",
    )
    parser.add_argument(
        "--attnkit-runs",
        type=Path,
        default=None,
        help=f"attnkit's runs at the budget (default: <runs>/{DEFAULT_ATTNKIT_RUNS})",
    )
    parser.add_argument("--steps", type=int, default=12, help="timed training steps per side")
    parser.add_argument("--sentences", type=int, default=500, help="test verses decoded")
    parser.add_argument("--chunk", type=int, default=100, help="verses per interleaved chunk")
    parser.add_argument("--rss-steps", type=int, default=10, help="training steps per RSS child")
    parser.add_argument(
        "--updates", type=int, default=None, help="JoeyNMT's updates (default: the budget's)"
    )
    parser.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="config override of both toolkits' runs",
    )
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="folder for the JSON")
    parser.add_argument("--rss-child", nargs=3, help=argparse.SUPPRESS)  # TOOLKIT ARCH FILE
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the comparison; returns the exit status."""
    from attnkit.paths import runs_dir
    from attnkit.training.trainer import resolve_bf16

    parser = build_parser()
    args = parser.parse_args(argv)
    if args.rss_child:
        toolkit, arch, batches_file = args.rss_child
        return _rss_child(toolkit, arch, Path(batches_file), args.overrides)
    if min(args.steps - 1, args.sentences, args.chunk, args.rss_steps, args.updates or 1) < 1:
        parser.error("--steps >= 2; --sentences, --chunk, --rss-steps, --updates >= 1")
    started = datetime.now()
    torch.set_num_threads(1)
    folder = args.runs or runs_dir() / "bench-peers"
    ours = args.attnkit_runs or runs_dir() / DEFAULT_ATTNKIT_RUNS
    missing = [a for a in args.archs if not (ours / a / "config.yaml").is_file()]
    if missing and {"decode", "quality"} & set(args.parts):
        parser.error(
            f"no attnkit run for {missing} in {ours}: run `attnkit bench "
            "translate-arch --variants rnn,transformer` first, or pass --attnkit-runs"
        )
    tokenizer_from = ours / "rnn" if (ours / "rnn" / "tokenizer").is_dir() else None
    budget = budget_updates(folder, args.overrides, tokenizer_from)
    updates = {a: args.updates or budget["updates"][a] for a in args.archs}
    rnn_updates = budget["attnkit_rnn_updates"]
    print(f"JoeyNMT's updates at attnkit's RNN budget of {rnn_updates:,}: {updates}", flush=True)
    record: dict = {
        "peer": PEER,
        "threads": 1,
        "archs": args.archs,
        "parts": args.parts,
        "attnkit_runs": str(ours),
        "runs": str(folder),
        "budget": {**budget, "joeynmt_updates": updates},
    }
    cfgs = {arch: load_cfg(arch, args.overrides) for arch in args.archs}
    prepared = prepare(cfgs[args.archs[0]], folder / "data", tokenizer_from)
    vocab = prepared.assets.tgt_tok.vocab_size
    record["parameters"] = {
        arch: {
            "attnkit": _count(attnkit_model(cfgs[arch], prepared)),
            "joeynmt": _count(joey_model(cfgs[arch], prepared)),
        }
        for arch in args.archs
    }
    batches = first_batches(prepared, max(args.steps, args.rss_steps))
    if "train" in args.parts:
        bf16 = resolve_bf16(cfgs[args.archs[0]].train.bf16, torch.device("cpu"))
        record["train"] = {
            arch: [
                train_speed(cfgs[arch], prepared, arch, batches[: args.steps], b)
                for b in dict.fromkeys([bf16, False])
            ]
            for arch in args.archs
        }
    if "rss" in args.parts:
        saved = folder / "rss_batches.pt"
        torch.save({"batches": batches[: args.rss_steps], "vocab_size": vocab}, saved)
        record["rss_mib"] = {
            arch: {
                toolkit: peak_rss(toolkit, arch, saved, args.overrides)
                for toolkit in ("attnkit", "joeynmt")
            }
            for arch in args.archs
        }
        record["rss_mib_fixed_mmap_threshold"] = {
            arch: {
                toolkit: peak_rss(toolkit, arch, saved, args.overrides, FIXED_MMAP_THRESHOLD)
                for toolkit in ("attnkit", "joeynmt")
            }
            for arch in args.archs
        }
        record["rss_steps"] = args.rss_steps
    if "quality" in args.parts:
        record["quality"] = {}
        for arch in args.archs:  # JoeyNMT first: its training is the long part
            joey = train_joeynmt(arch, updates[arch], folder / arch, args.overrides, tokenizer_from)
            ours_q = attnkit_quality(ours / arch, cfgs[arch].decode.bf16)
            record["quality"][arch] = {"attnkit": ours_q, "joeynmt": joey}
    if "decode" in args.parts:
        record["decode"] = {
            arch: decode_speed(
                ours / arch,
                arch,
                _joey_at_budget(arch, updates[arch], folder, args.overrides, tokenizer_from),
                args.sentences,
                args.chunk,
                cfgs[arch].decode.bf16,
            )
            for arch in args.archs
        }
    publish("peers", args.out, started, table(record), **record)
    return 0


def _count(model: torch.nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def _joey_at_budget(arch, updates, folder, overrides, tokenizer_from):
    """JoeyNMT's budget-trained ``arch`` (trained first when missing)."""
    train_joeynmt(arch, updates, folder / arch, overrides, tokenizer_from)
    cfg = load_cfg(arch, overrides)
    tok = prepare(cfg, folder / arch, tokenizer_from).assets.tgt_tok
    return load_joey(arch, folder / arch, cfg, tok.vocab_size)


def table(record: dict) -> list[str]:
    """The README's rows: each toolkit and architecture, the figures the parts measured."""
    head = (
        f"{'system':<22}{'params':>8}{'train tok/s':>12}{'greedy/s':>9}{'beam5/s':>8}"
        f"{'RSS MiB':>8}{'updates':>8}{'BLEU':>6}{'chrF':>6}"
    )
    lines = [head, "-" * len(head)]
    for arch in record["archs"]:
        for toolkit in ("attnkit", "joeynmt"):
            train = record.get("train", {}).get(arch, [{}])[0]
            decode = record.get("decode", {}).get(arch, {})
            quality = record.get("quality", {}).get(arch, {}).get(toolkit, {})

            def cell(value, fmt: str, width: int) -> str:
                return f"{value:>{width}{fmt}}" if value is not None else f"{'-':>{width}}"

            lines.append(
                f"{toolkit + ' ' + arch:<22}"
                f"{record['parameters'][arch][toolkit] / 1e6:>7.2f}M"
                + cell(train.get(f"{toolkit}_tokens_per_s"), ",.0f", 12)
                + cell(decode.get("greedy", {}).get(f"{toolkit}_sentences_per_s"), ".1f", 9)
                + cell(decode.get("beam5", {}).get(f"{toolkit}_sentences_per_s"), ".1f", 8)
                + cell(record.get("rss_mib", {}).get(arch, {}).get(toolkit), ",.0f", 8)
                + cell(quality.get("updates"), ",", 8)
                + cell(quality.get("test", {}).get("bleu"), ".2f", 6)
                + cell(quality.get("test", {}).get("chrf"), ".2f", 6)
            )
    for arch in record["archs"]:
        parts = []
        for row in record.get("train", {}).get(arch, []):
            r = row["ratio"]
            parts.append(
                f"train {row['attnkit_dtype']} {r['min']:.2f}/{r['median']:.2f}/{r['max']:.2f}"
            )
        for mode in ("greedy", "beam5"):
            if mode in record.get("decode", {}).get(arch, {}):
                r = record["decode"][arch][mode]["ratio"]
                parts.append(f"{mode} {r['min']:.2f}/{r['median']:.2f}/{r['max']:.2f}")
        if parts:
            lines.append(f"attnkit/JoeyNMT {arch} (min/median/max): " + "; ".join(parts))
    return lines


if __name__ == "__main__":
    sys.exit(main())

__all__ = ["ARCHS", "PARTS", "budget_updates", "main", "ratio_stats", "score_test", "train_joeynmt"]
