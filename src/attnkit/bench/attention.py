"""Side-by-side attention benchmark: attnkit against torch, ratios ``attnkit / peer``.

Sections (B=4, H=8, D=64 unless stated; fp32 and bf16; causal and not):

=======  ==========================================  ==================================  =====
section  attnkit                                     peer                                target
=======  ==========================================  ==================================  =====
fused    ``scaled_dot_product_attention(q, k, v)``   ``F.scaled_dot_product_attention``  1.05
weights  ``... return_weights=True`` (eager path)    naive ``softmax(QK^T) V`` + weights 1.00
chunked  ``... chunk_size=512`` (online softmax)     ``F.scaled_dot_product_attention``  2.00
mha      ``MultiHeadAttention`` forward + backward   ``nn.MultiheadAttention``           1.00
mha+w    the same with ``return_weights=True``       ``need_weights=True`` (per head)    1.00
memory   chunked peak RSS at L=16384 (fresh process) naive path's peak RSS               0.125
=======  ==========================================  ==================================  =====

Timing: one warmup pair, then the two sides are interleaved, alternating which goes first
(AB BA AB ...), so load from other processes hits both; ``time.perf_counter`` around each call;
torch's default thread count. The ratio of medians decides the target; the ratio of minimums
is printed beside it. Attention sections are forward-only under ``torch.no_grad()``; the
``mha`` sections are forward + backward (self-attention, E = H*D = 512, not causal). bf16
inputs are cast to ``torch.bfloat16`` (no autocast). Peak memory is the peak resident set
size (``VmHWM`` of ``/proc/self/status``, reset through ``/proc/self/clear_refs``) of a fresh
``python`` process that runs one call, minus its resident size just before the call.

Results go to ``<out>/attention-<timestamp>.json`` and ``<out>/attention-latest.json``.

Example:
    $ attnkit bench attention --quick
    $ attnkit bench attention --sections fused,chunked --sizes 1024,4096 --dtypes float32
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from attnkit.attention.multihead import MultiHeadAttention
from attnkit.attention.sdpa import scaled_dot_product_attention
from attnkit.bench import report
from attnkit.bench.timing import time_pair

__all__ = ["main"]

SECTIONS = ("fused", "weights", "chunked", "mha", "mha+w", "memory")
TARGETS = {
    "fused": 1.05,
    "weights": 1.0,
    "chunked": 2.0,
    "mha": 1.0,
    "mha+w": 1.0,
    "memory": 1 / 8,
}
PEERS = {
    "fused": "torch.nn.functional.scaled_dot_product_attention",
    "weights": "naive softmax(QK^T/sqrt(D)) V (masked_fill -inf), returns weights",
    "chunked": "torch.nn.functional.scaled_dot_product_attention",
    "mha": "torch.nn.MultiheadAttention(batch_first=True), need_weights=False",
    "mha+w": "torch.nn.MultiheadAttention(batch_first=True), need_weights=True, "
    "average_attn_weights=False",
    "memory": "naive softmax(QK^T/sqrt(D)) V (masked_fill -inf), returns weights",
}
DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16}

# The default run (about 5 minutes on 2 CPU cores) and --quick (about 1 minute).
DEFAULTS = {
    "sizes": [256, 1024, 4096],
    "mha_sizes": [256, 1024],
    "repeats": 5,
    "mem_len": 16384,
}
QUICK = {
    "sizes": [256, 1024],
    "mha_sizes": [256],
    "repeats": 3,
    "mem_len": 4096,
}
BATCH, HEADS, HEAD_DIM = 4, 8, 64


# ----------------------------------------------------------------------------- timing


@dataclass
class Case:
    """One side-by-side measurement: attnkit and the peer on the same inputs."""

    section: str
    dtype: str
    L: int
    causal: bool
    B: int = BATCH
    H: int = HEADS
    D: int = HEAD_DIM
    ours: list[float] = field(default_factory=list)  # seconds per call
    peer: list[float] = field(default_factory=list)

    @property
    def ratio_median(self) -> float:
        return statistics.median(self.ours) / statistics.median(self.peer)

    @property
    def ratio_min(self) -> float:
        return min(self.ours) / min(self.peer)

    @property
    def target(self) -> float:
        return TARGETS[self.section]

    @property
    def met(self) -> bool:
        return self.ratio_median <= self.target

    def to_dict(self) -> dict:
        return {
            "section": self.section,
            "dtype": self.dtype,
            "B": self.B,
            "H": self.H,
            "L": self.L,
            "D": self.D,
            "causal": self.causal,
            "attnkit": _stats(self.ours),
            "peer": _stats(self.peer),
            "peer_name": PEERS[self.section],
            "ratio_median": self.ratio_median,
            "ratio_min": self.ratio_min,
            "target": self.target,
            "meets_target": self.met,
        }


def _stats(times: Sequence[float]) -> dict:
    return {
        "min": min(times),
        "median": statistics.median(times),
        "max": max(times),
        "seconds": list(times),
    }


# ----------------------------------------------------------------------------- the peers


def naive_attention(q: Tensor, k: Tensor, v: Tensor, allowed: Tensor | None):
    """Textbook attention returning weights: ``softmax(QK^T / sqrt(D))`` masked with ``-inf``.

    Args:
        q, k, v: ``(B, H, L, D)``.
        allowed: bool ``(L, L)``, ``True`` = may attend, or ``None``.

    Returns:
        ``(out (B, H, L, D), weights (B, H, L, L))``.
    """
    scores = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(q.shape[-1]))  # (B, H, L, L)
    if allowed is not None:
        scores = scores.masked_fill(~allowed, float("-inf"))
    weights = torch.softmax(scores, dim=-1)  # (B, H, L, L)
    return weights @ v, weights  # (B, H, L, D)


def _qkv(B: int, H: int, L: int, D: int, dtype: torch.dtype, seed: int = 0):
    gen = torch.Generator().manual_seed(seed)
    return tuple(torch.randn(B, H, L, D, generator=gen).to(dtype) for _ in range(3))


# ----------------------------------------------------------------------------- sections


def _attention_case(section: str, dtype: str, L: int, causal: bool, args) -> Case:
    q, k, v = _qkv(BATCH, HEADS, L, HEAD_DIM, DTYPES[dtype])  # (B, H, L, D)
    if section == "fused":

        def ours():
            return scaled_dot_product_attention(q, k, v, causal=causal)

        def peer():
            return F.scaled_dot_product_attention(q, k, v, is_causal=causal)

    elif section == "chunked":
        chunk = args.chunk_size

        def ours():
            return scaled_dot_product_attention(q, k, v, causal=causal, chunk_size=chunk)

        def peer():
            return F.scaled_dot_product_attention(q, k, v, is_causal=causal)

    elif section == "weights":
        # The peer's mask is built once, outside the timing (as a registered buffer would be).
        allowed = torch.ones(L, L, dtype=torch.bool).tril_() if causal else None  # (L, L)

        def ours():
            return scaled_dot_product_attention(q, k, v, causal=causal, return_weights=True)

        def peer():
            return naive_attention(q, k, v, allowed)

    else:
        raise AssertionError(section)
    case = Case(section, dtype, L, causal)
    with torch.no_grad():
        case.ours, case.peer = time_pair(ours, peer, warmup=args.warmup, repeats=args.repeats)
    return case


def _mha_case(section: str, dtype: str, L: int, args) -> Case:
    weights = section == "mha+w"
    E = HEADS * HEAD_DIM
    torch.manual_seed(0)
    ref = nn.MultiheadAttention(E, HEADS, batch_first=True).to(DTYPES[dtype])
    mine = MultiHeadAttention.from_torch(ref)
    gen = torch.Generator().manual_seed(1)
    x = torch.randn(BATCH, L, E, generator=gen).to(DTYPES[dtype]).requires_grad_()  # (B, L, E)
    grad = torch.randn(BATCH, L, E, generator=gen).to(DTYPES[dtype])  # (B, L, E)

    def ours():
        x.grad = None
        mine.zero_grad(set_to_none=True)
        out, w = mine(x, return_weights=weights)  # (B, L, E), (B, H, L, L) | None
        out.backward(grad)
        return w

    def peer():
        x.grad = None
        ref.zero_grad(set_to_none=True)
        out, w = ref(x, x, x, need_weights=weights, average_attn_weights=False)
        out.backward(grad)
        return w

    case = Case(section, dtype, L, False)
    case.ours, case.peer = time_pair(ours, peer, warmup=args.warmup, repeats=args.repeats)
    return case


# ----------------------------------------------------------------------------- peak memory

MEMORY_VARIANTS = ("naive", "attnkit_chunked", "torch_sdpa")


def _proc_status_kib(key: str) -> int:
    with open("/proc/self/status") as f:
        match = re.search(rf"^{key}:\s+(\d+) kB", f.read(), re.MULTILINE)
    return int(match.group(1)) if match else -1


def _memory_child(spec_json: str) -> None:
    """Run one call in this (fresh) process and print its peak RSS increase as JSON."""
    spec = json.loads(spec_json)
    B, H, L, D = spec["B"], spec["H"], spec["L"], spec["D"]
    dtype, causal, chunk = DTYPES[spec["dtype"]], spec["causal"], spec["chunk_size"]

    def call(q, k, v):
        if spec["variant"] == "naive":
            allowed = torch.ones(q.shape[2], q.shape[2], dtype=torch.bool).tril_()
            return naive_attention(q, k, v, allowed if causal else None)
        if spec["variant"] == "attnkit_chunked":
            return scaled_dot_product_attention(q, k, v, causal=causal, chunk_size=chunk)
        return F.scaled_dot_product_attention(q, k, v, is_causal=causal)

    with torch.no_grad():
        call(*_qkv(B, H, 64, D, dtype))  # load kernels and thread pools outside the measurement
        q, k, v = _qkv(B, H, L, D, dtype)  # (B, H, L, D)
        rss0 = _proc_status_kib("VmRSS")
        try:
            with open("/proc/self/clear_refs", "w") as f:
                f.write("5")  # reset VmHWM to the current RSS
            base, method = rss0, "VmHWM reset via clear_refs"
        except OSError:
            base, method = _proc_status_kib("VmHWM"), "VmHWM increase (lower bound)"
        t0 = time.perf_counter()
        result = call(q, k, v)
        seconds = time.perf_counter() - t0
        peak = _proc_status_kib("VmHWM")
        del result
    print(
        json.dumps({"peak_bytes": max(0, peak - base) * 1024, "seconds": seconds, "method": method})
    )


def _mem_available_bytes() -> int | None:
    try:
        with open("/proc/meminfo") as f:
            match = re.search(r"^MemAvailable:\s+(\d+) kB", f.read(), re.MULTILINE)
    except OSError:
        return None
    return int(match.group(1)) * 1024 if match else None


def _memory_section(args) -> dict:
    L, H, D = args.mem_len, args.mem_heads, HEAD_DIM
    note = ""
    # The naive path holds two (B, H, L, L) fp32 matrices at once (scores and weights).
    avail = _mem_available_bytes()
    while avail is not None and H > 1 and 0.7 * avail < 2.2 * H * L * L * 4:
        H //= 2
        note = f"heads reduced to {H} so the naive path fits in 70% of available memory"
    spec = {
        "B": 1,
        "H": H,
        "L": L,
        "D": D,
        "dtype": "float32",
        "causal": True,
        "chunk_size": args.chunk_size,
    }
    peaks: dict[str, int] = {}
    seconds: dict[str, float] = {}
    method = ""
    for variant in MEMORY_VARIANTS:
        code = (
            "import sys; from attnkit.bench.attention import _memory_child; "
            "_memory_child(sys.argv[1])"
        )
        proc = subprocess.run(
            [sys.executable, "-c", code, json.dumps({**spec, "variant": variant})],
            capture_output=True,
            text=True,
            check=False,
        )
        if proc.returncode != 0:
            raise RuntimeError(
                f"memory child {variant!r} failed (exit {proc.returncode}): {proc.stderr[-2000:]}"
            )
        res = json.loads(proc.stdout.strip().splitlines()[-1])
        peaks[variant], seconds[variant], method = res["peak_bytes"], res["seconds"], res["method"]
    ratio = peaks["attnkit_chunked"] / max(peaks["naive"], 1)
    return {
        **{key: spec[key] for key in ("B", "H", "L", "D", "dtype", "causal", "chunk_size")},
        "pass": "forward, torch.no_grad()",
        "method": method,
        "note": note,
        "peak_bytes": peaks,
        "call_seconds": seconds,
        "ratio_chunked_naive": ratio,
        "ratio_torch_sdpa_naive": peaks["torch_sdpa"] / max(peaks["naive"], 1),
        "target": TARGETS["memory"],
        "meets_target": ratio <= TARGETS["memory"],
    }


# ----------------------------------------------------------------------------- report


def _ms(seconds: float) -> str:
    return f"{seconds * 1e3:9.2f}"


def _row(case: Case) -> str:
    o, p = _stats(case.ours), _stats(case.peer)
    return (
        f"{case.section:<8} {case.dtype:<8} {case.L:>5} {'yes' if case.causal else 'no':<6}"
        f"{_ms(o['min'])}{_ms(o['median'])}{_ms(o['max'])} |"
        f"{_ms(p['min'])}{_ms(p['median'])}{_ms(p['max'])} |"
        f"{case.ratio_median:7.3f}{case.ratio_min:7.3f}  <= {case.target:<5.2f}"
        f" {'ok' if case.met else 'MISSED'}"
    )


TABLE_HEAD = (
    f"{'section':<8} {'dtype':<8} {'L':>5} {'causal':<6}"
    f"{'attnkit ms: min':>18}{'med':>9}{'max':>9} |"
    f"{'peer ms: min':>18}{'med':>9}{'max':>9} |"
    f"{'ratio':>7}{'r.min':>7}  target"
)


def _fmt_bytes(n: int) -> str:
    return f"{n / 2**20:,.1f} MiB"


def _memory_lines(mem: dict) -> list[str]:
    p = mem["peak_bytes"]
    return [
        f"peak memory, L={mem['L']} B={mem['B']} H={mem['H']} D={mem['D']} {mem['dtype']} "
        f"causal, forward under no_grad, fresh process each ({mem['method']}):",
        f"  naive (weights)        {_fmt_bytes(p['naive']):>14}",
        f"  attnkit chunked={mem['chunk_size']:<6} {_fmt_bytes(p['attnkit_chunked']):>14}",
        f"  torch SDPA             {_fmt_bytes(p['torch_sdpa']):>14}",
        f"  ratio chunked/naive = {mem['ratio_chunked_naive']:.4f}  <= {mem['target']:.3f} "
        f"{'ok' if mem['meets_target'] else 'MISSED'}"
        + (f"   ({mem['note']})" if mem["note"] else ""),
    ]


def _summary(cases: list[Case]) -> dict:
    """Per section: target, cases meeting it, and the best / worst median ratio."""
    out: dict[str, dict] = {}
    for case in cases:
        s = out.setdefault(
            case.section,
            {
                "target": case.target,
                "met": 0,
                "total": 0,
                "best_ratio_median": math.inf,
                "worst_ratio_median": 0.0,
            },
        )
        s["total"] += 1
        s["met"] += case.met
        s["best_ratio_median"] = min(s["best_ratio_median"], case.ratio_median)
        s["worst_ratio_median"] = max(s["worst_ratio_median"], case.ratio_median)
    return out


# ----------------------------------------------------------------------------- entry point


def _choice_list(valid: Sequence[str]) -> Callable[[str], list[str]]:
    def parse(text: str) -> list[str]:
        values = [part.strip() for part in text.split(",") if part.strip()]
        bad = [value for value in values if value not in valid]
        if bad or not values:
            raise argparse.ArgumentTypeError(
                f"unknown {bad or text!r}; valid: {', '.join(valid)} (comma-separated)"
            )
        return values

    return parse


def build_parser() -> argparse.ArgumentParser:
    """The benchmark's command-line options."""
    parser = argparse.ArgumentParser(
        prog="attnkit bench attention",
        description="attnkit attention vs torch, side by side; prints ratios attnkit/peer and "
        "writes JSON. The default run takes about 5 minutes on 2 CPU cores, --quick about 1.",
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="small run: L=256,1024, MHA L=256, 3 repeats, memory at L=4096",
    )
    parser.add_argument(
        "--sizes",
        type=report.positive_ints,
        help="sequence lengths for the SDPA "
        f"sections (default {','.join(map(str, DEFAULTS['sizes']))})",
    )
    parser.add_argument(
        "--mha-sizes",
        type=report.positive_ints,
        help="sequence lengths for the MHA "
        f"sections (default {','.join(map(str, DEFAULTS['mha_sizes']))})",
    )
    parser.add_argument(
        "--repeats", type=int, help=f"timed pairs per case (default {DEFAULTS['repeats']})"
    )
    parser.add_argument("--warmup", type=int, default=1, help="untimed pairs first (default 1)")
    parser.add_argument(
        "--dtypes",
        type=_choice_list(tuple(DTYPES)),
        default=list(DTYPES),
        help="comma-separated (default float32,bfloat16)",
    )
    parser.add_argument(
        "--sections",
        type=_choice_list(SECTIONS),
        default=list(SECTIONS),
        help=f"comma-separated subset of {','.join(SECTIONS)} (default all)",
    )
    parser.add_argument(
        "--chunk-size", type=int, default=512, help="key block of the chunked path (default 512)"
    )
    parser.add_argument(
        "--bf16-weights-max-len",
        type=int,
        default=1024,
        help="longest L for the bf16 weights section (default 1024; 0 = no "
        "limit): bf16 matmul without native CPU support is ~10x slower than "
        "fp32, and bf16 L=4096 takes over a minute per call",
    )
    parser.add_argument(
        "--mem-len",
        type=int,
        help=f"L of the peak-memory comparison (default {DEFAULTS['mem_len']})",
    )
    parser.add_argument(
        "--mem-heads",
        type=int,
        default=4,
        help="H of the peak-memory comparison, B=1 (default 4: the naive path "
        "then peaks near 8 GiB at L=16384; halved until it fits in 70%% of "
        "available memory)",
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=Path("benchmarks/results"),
        help="folder for the JSON results (default benchmarks/results)",
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; returns the process exit status (0, or 2 on bad arguments)."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help (0) or a bad option (2)
        return int(exc.code or 0)
    preset = QUICK if args.quick else DEFAULTS
    for key, value in preset.items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    if args.repeats < 1 or args.warmup < 0 or args.chunk_size < 1 or args.mem_len < 1:
        parser.print_usage(sys.stderr)
        print(
            "error: --repeats, --chunk-size, --mem-len must be >= 1, --warmup >= 0", file=sys.stderr
        )
        return 2

    started = datetime.now()
    machine = report.machine()
    print(f"attnkit attention benchmark — {started:%Y-%m-%d %H:%M:%S}")
    print(
        f"torch {machine['torch']} ({machine['torch_threads']} threads), {machine['cpu']}, "
        f"{machine['cpu_count']} CPUs, load {os.getloadavg()[0]:.2f}"
    )
    print(
        f"B={BATCH} H={HEADS} D={HEAD_DIM}; SDPA L={args.sizes}, MHA L={args.mha_sizes} "
        f"(E={HEADS * HEAD_DIM}, fwd+bwd, not causal); dtypes {args.dtypes}; "
        f"chunk_size={args.chunk_size}"
    )
    print(
        f"{args.warmup} warmup + {args.repeats} timed pairs per case, interleaved AB BA ...; "
        f"ratio = attnkit / peer (median; r.min = ratio of minimums)."
    )
    print(
        "Expected duration: about 5 min for the default run, about 1 min for --quick, "
        "on 2 CPU cores (the peak-memory child needs about 9 GB free).\n"
    )

    cases: list[Case] = []
    print(TABLE_HEAD)
    print("-" * len(TABLE_HEAD))
    for section in ("fused", "weights", "chunked"):
        if section not in args.sections:
            continue
        for dtype in args.dtypes:
            for L in args.sizes:
                limit = args.bf16_weights_max_len
                if section == "weights" and dtype == "bfloat16" and 0 < limit < L:
                    print(
                        f"{section:<8} {dtype:<8} {L:>5} skipped (--bf16-weights-max-len {limit})"
                    )
                    continue
                for causal in (False, True):
                    cases.append(_attention_case(section, dtype, L, causal, args))
                    print(_row(cases[-1]), flush=True)
    for section in ("mha", "mha+w"):
        if section not in args.sections:
            continue
        for dtype in args.dtypes:
            for L in args.mha_sizes:
                cases.append(_mha_case(section, dtype, L, args))
                print(_row(cases[-1]), flush=True)

    memory = None
    if "memory" in args.sections:
        print()
        memory = _memory_section(args)
        print("\n".join(_memory_lines(memory)))

    summary = _summary(cases)
    print("\nsummary (worst median ratio per section):")
    for section, s in summary.items():
        print(
            f"  {section:<8} worst {s['worst_ratio_median']:6.3f}  target <= {s['target']:.2f}"
            f"  met {s['met']}/{s['total']}"
        )
    finished = datetime.now()
    record = {
        "benchmark": "attention",
        "started": started.isoformat(timespec="seconds"),
        "finished": finished.isoformat(timespec="seconds"),
        "wall_seconds": (finished - started).total_seconds(),
        "load_average_end": os.getloadavg(),
        "machine": machine,
        "settings": {
            "B": BATCH,
            "H": HEADS,
            "D": HEAD_DIM,
            "sizes": args.sizes,
            "mha_sizes": args.mha_sizes,
            "mha_embed_dim": HEADS * HEAD_DIM,
            "dtypes": args.dtypes,
            "sections": args.sections,
            "repeats": args.repeats,
            "warmup": args.warmup,
            "chunk_size": args.chunk_size,
            "bf16_weights_max_len": args.bf16_weights_max_len,
            "quick": args.quick,
            "timing": "interleaved AB BA ..., time.perf_counter, default torch threads; "
            "attention sections forward under no_grad, mha sections forward+backward",
        },
        "targets": TARGETS,
        "results": [case.to_dict() for case in cases],
        "memory": memory,
        "summary": summary,
    }
    path = report.write_results(args.out, "attention", record, started)
    print(f"\nwrote {path} (and attention-latest.json) in {record['wall_seconds']:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
