"""``attnkit export`` for translators: the encoder and one decoder step as ONNX, checked.

Writes into ``out``:

* ``encoder.onnx`` and ``decoder_step.onnx``, the graphs of
  :mod:`attnkit.tasks.translate.onnx_graphs` (dynamic batch, source length and, for the
  Transformer, cache length);
* ``translator.json``: what a runtime needs to loop over steps (the tensors between the
  graphs and their batch axes, the search settings, the tokenizer files, the vocabulary sizes);
* the run's tokenizer files (and the word forms of its training sources, which name
  placeholders look names up in), at the same relative paths.

Then checks onnxruntime against PyTorch on padded batches of the run's dev sentences: both
decode greedily (PyTorch's tokens drive both), and the largest log-probability and attention
differences over every step, and how many greedy outputs differ, are returned.
:func:`attnkit.tasks.translate.onnx_runtime.load_onnx_translator` reads the folder back.

Example:
    $ attnkit export --model ~/.cache/attnkit/runs/demo --out demo-onnx
    {"encoder": "demo-onnx/encoder.onnx", ..., "max_abs_log_prob_diff": 3.1e-06, ...}
"""

from __future__ import annotations

import dataclasses
import json
import shutil
from pathlib import Path
from typing import Any

import torch

from attnkit.data import parallel
from attnkit.data.batching import pad_sequences
from attnkit.data.placeholders import SOURCE_WORDS_FILE
from attnkit.decoding.batched import DecodeConfig
from attnkit.fileio import atomic_write
from attnkit.models.seq2seq import Seq2Seq
from attnkit.models.transformer import Transformer
from attnkit.specials import BOS_ID
from attnkit.tasks.runs import Run
from attnkit.tasks.translate.onnx_graphs import EncoderGraph, GraphSpec, StepGraph, graph_spec
from attnkit.tasks.translate.onnx_runtime import (
    ENCODER_FILE,
    FORMAT,
    MANIFEST,
    STEP_FILE,
    OnnxStepModel,
)

CHECK_SENTENCES = 32  # dev sentences of the parity check, in two padded batches


def export_translator(run: Run, out: str | Path, *, check_sentences: int = CHECK_SENTENCES):
    """Export a translate run to the folder ``out`` and check it against PyTorch.

    Returns:
        the files written, their sizes, and the parity check (see the module docstring).

    Raises:
        AttnkitError: the onnx extra is missing, the model is not covered (an LSTM encoder),
            or the export fails.
    """
    from attnkit.export import require_onnx

    require_onnx()
    out = Path(out)
    decode = run.config.decode
    spec = export_graphs(
        run.model, out, max_output_tokens=decode.output_limit(decode.max_input_tokens)
    )
    files = run.require("tokenizers")
    extra = [SOURCE_WORDS_FILE] if (run.path / SOURCE_WORDS_FILE).is_file() else []
    for name in dict.fromkeys([*files, *extra]):
        (out / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(run.path / name, out / name)
    manifest = {
        "format": FORMAT,
        "task": "translate",
        "arch": spec.arch,
        "source_run": str(run.path),
        "spec": dataclasses.asdict(spec),
        "decode": dataclasses.asdict(decode),
        "tokenizers": files,
        "vocab": run.require("vocab"),
        "langs": run.meta.get("langs"),
    }
    atomic_write(out / MANIFEST, json.dumps(manifest, indent=1).encode())
    report = {
        "folder": str(out),
        "encoder": str(out / ENCODER_FILE),
        "decoder_step": str(out / STEP_FILE),
        "bytes": sum(p.stat().st_size for p in (out / ENCODER_FILE, out / STEP_FILE)),
    }
    pairs = parallel.load_split(run.config.data.corpus, "dev")[:check_sentences]
    src_tok = run.assets.src_tok
    ids = [src_tok.encode(s, add_eos=True)[: decode.max_input_tokens] for s, _ in pairs]
    return {**report, **parity(run.model, OnnxStepModel(out), ids, decode)}


def export_graphs(
    model: Seq2Seq | Transformer, out: str | Path, *, max_output_tokens: int = 400
) -> GraphSpec:
    """Write ``encoder.onnx`` and ``decoder_step.onnx`` of ``model`` into ``out``.

    ``max_output_tokens``: the longest output a Transformer's step must reach (its position
    table is part of the graph).

    Raises:
        AttnkitError: the onnx extra is missing, the model is not covered, the export fails.
    """
    from attnkit.export import export_graph

    out = Path(out)
    model = model.cpu().float().eval()
    spec = graph_spec(model)
    if isinstance(model, Transformer):
        model.reserve_positions(max_output_tokens + 1)
    batch, source = torch.export.Dim("batch", min=1), torch.export.Dim("source", min=1)
    src = torch.tensor([[5, 6, 7, 8, 3], [9, 10, 3, 0, 0], [11, 3, 0, 0, 0]])  # (B, Ls)
    src = src.clamp_max(min(model.src_vocab, model.tgt_vocab) - 1)
    lengths = torch.tensor([5, 3, 2])
    encoder = EncoderGraph(model)
    with torch.no_grad():
        memory_state = dict(zip(spec.encoder_outputs, encoder(src, lengths), strict=True))
    axes = {  # every tensor between the graphs: its batch and source axes
        "states": {0: batch, 1: source},
        "mask": {0: batch, 1: source},
        "proj_keys": {0: batch, 1: source},
        "hidden": {1: batch},
        "feed": {0: batch},
        "cross_k": {1: batch, 3: source},
        "cross_v": {1: batch, 3: source},
    }
    metadata = {"task": "translate", "arch": spec.arch}
    export_graph(
        encoder,
        (src, lengths),
        out / ENCODER_FILE,
        input_names=["src", "src_lengths"],
        output_names=list(spec.encoder_outputs),
        dynamic_shapes=({0: batch, 1: source}, {0: batch}),
        output_axes={n: {a: d.__name__ for a, d in axes[n].items()} for n in spec.encoder_outputs},
        metadata={**metadata, "graph": "encoder"},
    )
    step_args, step_axes = _step_example(spec, memory_state, axes, batch)
    export_graph(
        StepGraph(model),
        step_args,
        out / STEP_FILE,
        input_names=list(spec.step_inputs),
        output_names=list(spec.step_outputs),
        dynamic_shapes=step_axes,
        metadata={**metadata, "graph": "decoder_step"},
    )
    return spec


def _step_example(spec, memory_state: dict, axes: dict, batch) -> tuple[tuple, tuple]:
    """Example inputs of the step graph and their dynamic axes (the cache length ``past``:
    two steps in the example, any number, zero included, when run)."""
    past = torch.export.Dim("past", min=0)
    B = memory_state["mask"].shape[0]
    args: list[torch.Tensor] = [torch.full((B,), 4), torch.tensor([2])]
    dims: list[dict | None] = [{0: batch}, None]
    for name in spec.memory + spec.state:
        if name in spec.empty_state:
            shape, grows = spec.empty_state[name]
            shape = [B if d == -1 else (2 if i == grows else d) for i, d in enumerate(shape)]
            args.append(torch.randn(shape))
            dims.append({spec.batch_axis[name]: batch, grows: past})
        else:
            args.append(memory_state[name])
            dims.append(axes[name])
    return tuple(args), (dims[0], dims[1], tuple(dims[2:]))  # *tensors: one nested tuple


@torch.no_grad()
def parity(
    model: Seq2Seq | Transformer,
    onnx_model: OnnxStepModel,
    ids: list[list[int]],
    decode: DecodeConfig,
    *,
    batch_size: int = 16,
) -> dict[str, Any]:
    """onnxruntime against PyTorch on padded batches of the encoded sources ``ids``: both
    step through PyTorch's greedy tokens up to the output limit of ``decode``, so every step
    compares the same prefixes (padding rows and finished rows included).

    Returns:
        ``max_abs_log_prob_diff`` and ``max_abs_attention_diff`` over every step of every
        sentence, ``greedy_differs`` (sentences whose greedy argmax parted at some step), and
        the sentences and steps compared.
    """
    model = model.eval()
    worst_lp = worst_att = 0.0
    differs = steps = 0
    for start in range(0, len(ids), batch_size):
        src, lengths = pad_sequences(ids[start : start + batch_size])  # (B, Ls), (B,)
        enc, o_enc = model.encode(src, lengths), onnx_model.encode(src, lengths)
        state, o_state = model.init_decoder_state(enc), onnx_model.init_decoder_state(o_enc)
        prev = torch.full((src.size(0),), BOS_ID)
        parted = torch.zeros(src.size(0), dtype=torch.bool)
        for _ in range(decode.output_limit(int(lengths.max()))):
            lp, state, att = model.decode_step(enc, state, prev)  # (B, V), _, (B, Ls)
            o_lp, o_state, o_att = onnx_model.decode_step(o_enc, o_state, prev)
            worst_lp = max(worst_lp, (lp - o_lp).abs().max().item())
            worst_att = max(worst_att, (att - o_att).abs().max().item())
            parted |= lp.argmax(-1) != o_lp.argmax(-1)
            prev = lp.argmax(-1)
            steps += 1
        differs += int(parted.sum())
    return {
        "checked_sentences": len(ids),
        "checked_steps": steps,
        "max_abs_log_prob_diff": worst_lp,
        "max_abs_attention_diff": worst_att,
        "greedy_differs": differs,
    }


__all__ = ["export_graphs", "export_translator", "parity"]
