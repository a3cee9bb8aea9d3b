"""``attnkit bench ...``: each benchmark parses its own options (argparse; ``--help``)."""

from __future__ import annotations

import importlib

import typer

from attnkit.cli.app import bench_app

# typer hands every argument through to the benchmark's own parser
PASS_THROUGH = {"allow_extra_args": True, "ignore_unknown_options": True, "help_option_names": []}

BENCHMARKS = {
    "attention": "SDPA / MultiHeadAttention vs torch, printing ratios (extra args: --help)",
    "translate": "Translator training speed vs JoeyNMT 2.3.0 on the same batches (--help)",
    "translate-quality": "Test BLEU/chrF of the demo budget and the full recipe (--help)",
    "tag": "The tagger with and without self-attention / CRF, beside jieba (--help)",
    "classify": "ResNet-20 vs SE-ResNet-20 over seeds: mean +/- std, SE gain and cost (--help)",
    "onnx": "The exported classifier in onnxruntime vs PyTorch eager, interleaved (--help)",
    "segtag": "Raw Chinese text: the joint model vs jieba + the word tagger vs jieba (--help)",
    "summarize": "Pointer-generator with and without coverage vs the Lead baselines (--help)",
    "babi": "MemN2N on the 20 bAbI-style tasks: per-task test error, 1k and 10k, seeds (--help)",
    "correct": "The memory-network corrector vs pyspellchecker, symspellpy, leaving as is (--help)",
    "corpora": "The size of every corpus and its splits (the README's counts)",
    "decode-guard": "Dev BLEU of translation runs with and without the loop guard (--help)",
    "decode-precision": "Dev BLEU and speed of translation runs decoding in fp32 vs bf16 (--help)",
    "serve": "attnkit serve under load, 1-64 clients: batching vs one at a time (--help)",
    "passthrough": "Numbers and names that reach translations of modern sentences (--help)",
    "translate-arch": "RNN vs Transformer (+ gating ablation) at the same budget (--help)",
    "kv-cache": "Transformer greedy decoding with the KV cache vs recomputing the prefix (--help)",
    "onnx-translate": "Exported translators: test-split parity and speed vs PyTorch (--help)",
    "peers": "attnkit vs JoeyNMT 2.3.0: train/decode speed, memory, BLEU at a budget (--help)",
}


def _register(name: str, help_text: str) -> None:
    def command(ctx: typer.Context) -> None:
        module = importlib.import_module(f"attnkit.bench.{name.replace('-', '_')}")
        raise typer.Exit(module.main(list(ctx.args)))

    bench_app.command(name, help=help_text, context_settings=PASS_THROUGH)(command)


for _name, _help in BENCHMARKS.items():
    _register(_name, _help)
