"""What the Transformer's KV cache buys: greedy decoding of N output tokens with the cache
(:meth:`~attnkit.models.transformer.Transformer.decode_step`) against recomputing the whole
prefix at every step (:meth:`~attnkit.models.transformer.Transformer.decode_full`), on the
same sources, interleaved; the log-probabilities of both are compared at every step.

The source sentences are the run's dev verses (or random ids when no run is given, with the
config's model); EOS is blocked so every sentence runs the full N steps.

Example:
    $ attnkit bench kv-cache --model ~/.cache/attnkit/runs/translate-transformer --steps 50
"""

from __future__ import annotations

import argparse
import statistics
from datetime import datetime
from pathlib import Path

import torch

from attnkit.bench.report import DEFAULT_OUT, positive_ints, publish
from attnkit.bench.timing import time_pair
from attnkit.models.transformer import Transformer
from attnkit.specials import BOS_ID, EOS_ID, PAD_ID


def greedy_cached(model: Transformer, src: torch.Tensor, lengths: torch.Tensor, steps: int):
    """``steps`` greedy tokens with the caches: (B, steps) ids and (B, steps, V) log-probs."""
    enc = model.encode(src, lengths)
    state = model.init_decoder_state(enc)
    prev = torch.full((src.size(0),), BOS_ID, dtype=torch.long)
    tokens, log_probs = [], []
    for _ in range(steps):
        lp, state, _ = model.decode_step(enc, state, prev)  # (B, V)
        lp[:, EOS_ID] = float("-inf")
        prev = lp.argmax(-1)
        tokens.append(prev)
        log_probs.append(lp)
    return torch.stack(tokens, 1), torch.stack(log_probs, 1)


def greedy_recomputed(model: Transformer, src: torch.Tensor, lengths: torch.Tensor, steps: int):
    """The same decoding re-running the decoder over the whole prefix at each step."""
    enc = model.encode(src, lengths)
    prefix = torch.full((src.size(0), 1), BOS_ID, dtype=torch.long)
    log_probs = []
    for _ in range(steps):
        logits, _ = model.decode_full(enc, prefix)  # (B, t, V)
        lp = torch.log_softmax(logits[:, -1].float(), dim=-1)
        lp[:, EOS_ID] = float("-inf")
        prefix = torch.cat([prefix, lp.argmax(-1, keepdim=True)], dim=1)
        log_probs.append(lp)
    return prefix[:, 1:], torch.stack(log_probs, 1)


def sources(model_dir: Path | None, batch: int) -> tuple[Transformer, torch.Tensor, torch.Tensor]:
    """The model and a padded batch of ``batch`` sources (dev verses of a run, else random)."""
    if model_dir is not None:
        from attnkit.data import parallel
        from attnkit.tasks import open_run

        run = open_run(model_dir, task="translate")
        if not isinstance(run.model, Transformer):
            raise SystemExit(f"{model_dir} is not a Transformer run (arch={run.config.arch})")
        pairs = parallel.load_split(run.config.data.corpus, "dev")[:batch]
        data = parallel.encode_pairs(pairs, run.assets.src_tok, run.assets.tgt_tok)
        ids = data.src
        model = run.model
    else:
        from attnkit.config import load_config
        from attnkit.paths import repo_configs_dir
        from attnkit.tasks import get_task

        task = get_task("translate")
        cfg = load_config(
            task.config_class, repo_configs_dir() / "translate_es_en_transformer.yaml", []
        )
        torch.manual_seed(0)
        model = Transformer(cfg.transformer, src_vocab=4000, tgt_vocab=4000)
        g = torch.Generator().manual_seed(0)
        ids = [torch.randint(4, 4000, (int(n),), generator=g).tolist() for n in
               torch.randint(10, 40, (batch,), generator=g)]  # fmt: skip
    lengths = torch.tensor([len(s) for s in ids])
    src = torch.full((len(ids), int(lengths.max())), PAD_ID, dtype=torch.long)
    for i, s in enumerate(ids):
        src[i, : len(s)] = torch.tensor(s)
    return model.eval(), src, lengths


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="attnkit bench kv-cache", description=__doc__.split("\n")[0]
    )
    parser.add_argument(
        "--model", type=Path, help="a Transformer translation run (default: random init)"
    )
    parser.add_argument("--steps", type=int, default=50, help="output tokens per sentence")
    parser.add_argument("--batch", type=positive_ints, default=[1, 16], help="batch sizes")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="folder for the JSON")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    started = datetime.now()
    rows: dict[str, dict] = {}
    lines = [
        f"greedy, {args.steps} output tokens, {args.threads} thread(s)",
        "batch | cached s | recomputed s | speed-up min/median/max | max |dlogp| | same tokens",
    ]
    for batch in args.batch:
        model, src, lengths = sources(args.model, batch)
        with torch.no_grad():
            tok_c, lp_c = greedy_cached(model, src, lengths, args.steps)
            tok_r, lp_r = greedy_recomputed(model, src, lengths, args.steps)
            cached, recomputed = time_pair(
                lambda m=model, s=src, n=lengths: greedy_cached(m, s, n, args.steps),
                lambda m=model, s=src, n=lengths: greedy_recomputed(m, s, n, args.steps),
                warmup=1,
                repeats=args.repeats,
            )
        ratios = sorted(r / c for c, r in zip(cached, recomputed, strict=True))
        finite = torch.isfinite(lp_c)
        row = {
            "cached_seconds": statistics.median(cached),
            "recomputed_seconds": statistics.median(recomputed),
            "speedup": {"min": ratios[0], "median": statistics.median(ratios), "max": ratios[-1]},
            "max_abs_logprob_diff": float((lp_c - lp_r)[finite].abs().max()),
            "same_tokens": bool(torch.equal(tok_c, tok_r)),
        }
        rows[str(batch)] = row
        s = row["speedup"]
        lines.append(
            f"{batch} | {row['cached_seconds']:.3f} | {row['recomputed_seconds']:.3f} | "
            f"{s['min']:.2f} / {s['median']:.2f} / {s['max']:.2f} | "
            f"{row['max_abs_logprob_diff']:.1e} | {row['same_tokens']}"
        )
    publish(
        "kv-cache",
        args.out,
        started,
        lines,
        model=str(args.model)
        if args.model
        else "random init, configs/translate_es_en_transformer.yaml",
        steps=args.steps,
        threads=args.threads,
        repeats=args.repeats,
        rows=rows,
    )
    return 0


__all__ = ["greedy_cached", "greedy_recomputed", "main"]
