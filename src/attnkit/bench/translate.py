"""Translator training speed, side by side with JoeyNMT 2.3.0 on the same batches.

Both sides build the same model: a bidirectional GRU encoder (128 per direction), a GRU
decoder (256) with Bahdanau attention and input feeding, 256-dimensional embeddings tied
with the output layer, dropout 0.2, label smoothing 0.1 — attnkit from
``configs/translate_es_en.yaml``, JoeyNMT through its own ``build_model``. They train on the
same Bible batches (the default 4k joint BPE, 6k-token batches, verses <= 60 subwords), with
AdamW, one step = forward + backward + clip + optimizer step, timed interleaved (AB BA ...),
in float32 and under bfloat16 autocast. The ratio is attnkit seconds / JoeyNMT seconds per
step (median); target tokens per second are printed beside it.

JoeyNMT's code (from the package registry, into the cache) and its models at attnkit's sizes:
:mod:`attnkit.bench.joeynmt_peer`; ``attnkit bench peers`` extends this comparison to the
Transformer, decoding, memory and quality.

Example:
    $ attnkit bench translate                 # about 5 minutes on 2 CPU cores
    $ attnkit bench translate --steps 10 --dtypes float32
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from datetime import datetime
from pathlib import Path

import torch

from attnkit.bench.joeynmt_peer import PEER, joey_loss, joeynmt_model
from attnkit.bench.report import DEFAULT_OUT, machine, write_results
from attnkit.data import parallel
from attnkit.data.batching import token_batches
from attnkit.models.losses import label_smoothed_cross_entropy
from attnkit.paths import repo_configs_dir


def _batches(cfg, folder: Path, n: int) -> tuple[list[dict[str, torch.Tensor]], int]:
    """``n`` training batches of the default pipeline (the task's own data preparation, all of
    the training split), each sorted longest first as JoeyNMT packs them, and the vocabulary
    size."""
    data = parallel.prepare(cfg.data, folder, reuse=False)
    groups = token_batches(data.train.lengths(), cfg.data.max_tokens, shuffle=True, seed=0, epoch=0)
    out = [
        parallel.collate_pairs(data.train, sorted(idx, key=lambda i: -len(data.train.src[i])))
        for idx in groups[:n]
    ]
    return out, data.tgt_tok.vocab_size


def _ours_step(model, opt, batch, cfg):
    logits, _ = model(batch["src"], batch["src_len"], batch["tgt_in"])
    loss, n = label_smoothed_cross_entropy(logits, batch["tgt_out"], smoothing=cfg.label_smoothing)
    return loss / n, n


def _joey_step(model, opt, batch, cfg):
    loss, n = joey_loss(model, batch)
    return loss / n, n


def _stepper(step_fn, model, batches, cfg, bf16: bool):
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.train.lr)
    state = {"i": 0, "tokens": []}

    def step():
        batch = batches[state["i"] % len(batches)]
        state["i"] += 1
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            loss, n = step_fn(model, opt, batch, cfg)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.train.grad_clip or 1e9)
        opt.step()
        state["tokens"].append(n)

    return step, state


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="attnkit bench translate", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--steps", type=int, default=20, help="timed steps per side (20)")
    parser.add_argument("--dtypes", default="float32,bfloat16", help="float32,bfloat16")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="folder for the JSON")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the comparison; returns the exit status."""
    from attnkit.bench.timing import time_pair
    from attnkit.config import load_config
    from attnkit.models.seq2seq import Seq2Seq
    from attnkit.tasks.translate import TASK

    args = build_parser().parse_args(argv)
    dtypes = [d.strip() for d in args.dtypes.split(",") if d.strip()]
    if args.steps < 2 or not dtypes or any(d not in ("float32", "bfloat16") for d in dtypes):
        print("error: --steps >= 2 and --dtypes from float32,bfloat16", file=sys.stderr)
        return 2
    started = datetime.now()
    cfg = load_config(TASK.config_class, repo_configs_dir() / TASK.default_config)
    with tempfile.TemporaryDirectory() as tmp:
        batches, vocab_size = _batches(cfg, Path(tmp), args.steps)
    torch.manual_seed(0)
    ours = Seq2Seq(cfg.model, src_vocab=vocab_size, tgt_vocab=vocab_size)
    joey = joeynmt_model(cfg, vocab_size, label_smoothing=cfg.label_smoothing)
    params = {
        "attnkit": sum(p.numel() for p in ours.parameters()),
        "joeynmt": sum(p.numel() for p in joey.parameters()),
    }
    print(
        f"attnkit vs {PEER}: GRU {cfg.model.hidden_dim} + Bahdanau, input feeding, tied "
        f"embeddings; {params['attnkit']:,} vs {params['joeynmt']:,} parameters; "
        f"{len(batches)} Bible batches of <= {cfg.data.max_tokens} tokens, "
        f"{torch.get_num_threads()} threads"
    )
    rows = []
    for dtype in dtypes:
        bf16 = dtype == "bfloat16"
        ours.train(), joey.train()
        step_a, st_a = _stepper(_ours_step, ours, batches, cfg, bf16)
        step_b, st_b = _stepper(_joey_step, joey, batches, cfg, bf16)
        t_a, t_b = time_pair(step_a, step_b, warmup=1, repeats=len(batches) - 1)
        tok_a, tok_b = sum(st_a["tokens"][1:]), sum(st_b["tokens"][1:])
        row = {
            "dtype": dtype,
            "attnkit_tokens_per_s": tok_a / sum(t_a),
            "joeynmt_tokens_per_s": tok_b / sum(t_b),
            "ratio_median": statistics.median(t_a) / statistics.median(t_b),
            "attnkit_seconds": t_a,
            "joeynmt_seconds": t_b,
        }
        rows.append(row)
        print(
            f"{dtype:<9} attnkit {row['attnkit_tokens_per_s']:8,.0f} tok/s   joeynmt "
            f"{row['joeynmt_tokens_per_s']:8,.0f} tok/s   time ratio attnkit/joeynmt "
            f"{row['ratio_median']:.3f}",
            flush=True,
        )
    record = {
        "benchmark": "translate",
        "started": started.isoformat(timespec="seconds"),
        "machine": machine(),
        "peer": PEER,
        "parameters": params,
        "steps": len(batches),
        "results": rows,
    }
    path = write_results(args.out, "translate", record, started)
    print(f"\nwrote {path}")
    return 0


__all__ = ["main"]
