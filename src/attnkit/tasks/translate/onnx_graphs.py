"""A translator as two traceable graphs: the encoder, and one decoder step.

A runtime (onnxruntime) loops over steps with the search of :mod:`attnkit.decoding`, so only
the network is exported, never the search. Each graph is a plain ``nn.Module`` over tensors:

* ``encoder(src (B, Ls) int64, src_lengths (B,) int64)`` returns the *memory* the steps
  read (never changed while decoding) and the *state* before the first step;
* ``step(prev_tokens (B,) int64, step (1,) int64, *memory, *state)`` returns ``log_probs``
  (B, V), ``attention`` (B, Ls) and the next state.

:class:`GraphSpec` names those tensors and the axis that holds the batch in each (beam search
reorders it). The two architectures:

* RNN (:class:`~attnkit.models.seq2seq.Seq2Seq`): memory = encoder states, mask and
  projected keys, state = decoder hidden and the input-feeding vector. ``nn.GRU`` over a
  packed batch cannot be traced, so the encoder runs it through
  :class:`~attnkit.models.unpacked_rnn.UnpackedBiRNN` (the packed results, unpacked). LSTM
  encoders are refused: the final cell at each row's length is not in ``nn.LSTM``'s outputs.
* Transformer (:class:`~attnkit.models.transformer.Transformer`): memory = the source mask
  and every decoder layer's cross-attention keys and values, projected once; state = the
  self-attention keys and values of the steps so far, ``(N, B, Hkv, T, Dh)``, ``T = 0``
  before the first step (the runtime makes that empty state).

Example:
    >>> from attnkit.models.seq2seq import seq2seq_bahdanau_small
    >>> model = seq2seq_bahdanau_small(src_vocab=20, tgt_vocab=20).eval()
    >>> spec = graph_spec(model)
    >>> spec.memory, spec.state
    (('states', 'mask', 'proj_keys'), ('hidden', 'feed'))
    >>> outputs = EncoderGraph(model)(torch.tensor([[5, 6, 3], [7, 3, 0]]), torch.tensor([3, 2]))
    >>> [tuple(t.shape) for t in outputs][:2]  # states (B, Ls, H), mask (B, Ls)
    [(2, 3, 256), (2, 3)]
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from attnkit.attention import KVCache
from attnkit.errors import AttnkitError
from attnkit.models.seq2seq import DecoderState, EncoderOutput, Seq2Seq
from attnkit.models.transformer import Transformer, TransformerEncoding, TransformerState
from attnkit.models.unpacked_rnn import UnpackedBiRNN


@dataclass(frozen=True)
class GraphSpec:
    """The tensors between the two graphs, by name, and the batch axis of each.

    Attributes:
        arch: ``rnn`` or ``transformer``.
        memory: the encoder's outputs that every step reads.
        state: what a step reads and returns (``next_<name>``), in this order.
        batch_axis: each memory and state tensor's batch axis.
        empty_state: state tensors the runtime starts empty, with their shape (``-1``: the
            batch) and the axis that grows by one at each step; the encoder returns the rest.
    """

    arch: str
    memory: tuple[str, ...]
    state: tuple[str, ...]
    batch_axis: dict[str, int]
    empty_state: dict[str, tuple[tuple[int, ...], int]]

    @property
    def encoder_outputs(self) -> tuple[str, ...]:
        """The encoder graph's outputs: the memory, then the state it starts."""
        return self.memory + tuple(n for n in self.state if n not in self.empty_state)

    @property
    def step_inputs(self) -> tuple[str, ...]:
        return ("prev_tokens", "step", *self.memory, *self.state)

    @property
    def step_outputs(self) -> tuple[str, ...]:
        return ("log_probs", "attention", *(f"next_{n}" for n in self.state))


def graph_spec(model: Seq2Seq | Transformer) -> GraphSpec:
    """The :class:`GraphSpec` of a translation model.

    Raises:
        AttnkitError: a model the export does not cover (LSTM encoder, coverage).
    """
    if isinstance(model, Transformer):
        cfg = model.cfg
        n, hkv, dh = cfg.dec_layers, cfg.kv_heads or cfg.heads, cfg.dim // cfg.heads
        empty = {name: ((n, -1, hkv, 0, dh), 3) for name in ("self_k", "self_v")}
        return GraphSpec(
            "transformer",
            ("mask", "cross_k", "cross_v"),
            ("self_k", "self_v"),
            {"mask": 0, "cross_k": 1, "cross_v": 1, "self_k": 1, "self_v": 1},
            empty,
        )
    if model.cfg.rnn != "gru":
        raise AttnkitError(
            "ONNX export covers GRU encoders (the default): nn.LSTM gives no final cell state "
            "at each row's length without packed sequences, which cannot be traced"
        )
    if model.cfg.coverage:
        raise AttnkitError("ONNX export does not cover coverage attention (summarization)")
    memory = ("states", "mask", "proj_keys") if model._precompute else ("states", "mask")
    axes = {"states": 0, "mask": 0, "proj_keys": 0, "hidden": 1, "feed": 0}
    return GraphSpec("rnn", memory, ("hidden", "feed"), axes, {})


class EncoderGraph(nn.Module):
    """``(src, src_lengths)`` -> the memory and the first state of :func:`graph_spec`, in its
    ``encoder_outputs`` order."""

    def __init__(self, model: Seq2Seq | Transformer) -> None:
        super().__init__()
        self.model = model
        self.spec = graph_spec(model)
        self.rnn = UnpackedBiRNN(model.encoder) if isinstance(model, Seq2Seq) else None

    def forward(self, src: Tensor, src_lengths: Tensor) -> tuple[Tensor, ...]:
        model = self.model
        if isinstance(model, Transformer):
            enc = model.encode(src, src_lengths)
            kv = [block.cross_attn.project_kv(enc.states, enc.states) for block in model.decoder]
            cross_k = torch.stack([k for k, _ in kv])  # (N, B, Hkv, Ls, Dh)
            cross_v = torch.stack([v for _, v in kv])
            return enc.mask, cross_k, cross_v
        assert self.rnn is not None
        states, last = self.rnn(model.src_embed(src), src_lengths)  # (B, Ls, H), (B, H)
        enc = model.finish_encoding(states, src_lengths, last)
        first = model.init_decoder_state(enc)
        memory = (enc.states, enc.mask) + ((enc.proj_keys,) if enc.proj_keys is not None else ())
        return (*memory, first.hidden, first.feed)


class StepGraph(nn.Module):
    """One decoder step over the tensors of :func:`graph_spec`: ``(prev_tokens, step,
    *memory, *state)`` -> ``(log_probs, attention, *next_state)``."""

    def __init__(self, model: Seq2Seq | Transformer) -> None:
        super().__init__()
        self.model = model
        self.spec = graph_spec(model)

    def forward(self, prev_tokens: Tensor, step: Tensor, *tensors: Tensor) -> tuple[Tensor, ...]:
        named = dict(zip(self.spec.memory + self.spec.state, tensors, strict=True))
        model = self.model
        if isinstance(model, Transformer):
            mask = named["mask"]
            n = len(model.decoder)
            state = TransformerState(
                [_filled(KVCache(), named["self_k"][i], named["self_v"][i]) for i in range(n)],
                [
                    _filled(KVCache(static=True), named["cross_k"][i], named["cross_v"][i])
                    for i in range(n)
                ],
                step,  # type: ignore[arg-type]  # a (1,) tensor: the traced position
            )
            # the cross caches are filled, so no block reads the encoder states: none given
            enc = TransformerEncoding(mask.new_zeros(0), mask, mask.sum(-1))
            log_probs, state, attention = model.decode_step(enc, state, prev_tokens)
            self_k = torch.stack([c.k for c in state.self_caches])  # (N, B, Hkv, T + 1, Dh)
            self_v = torch.stack([c.v for c in state.self_caches])
            return log_probs, attention, self_k, self_v
        states, mask = named["states"], named["mask"]
        # decode_step reads the states, mask and keys; lengths and final are not used
        enc = EncoderOutput(
            states, mask, mask.sum(-1), named["feed"], proj_keys=named.get("proj_keys")
        )
        log_probs, next_state, attention = model.decode_step(
            enc, DecoderState(named["hidden"], None, named["feed"]), prev_tokens
        )
        return log_probs, attention, next_state.hidden, next_state.feed


def _filled(cache: KVCache, k: Tensor, v: Tensor) -> KVCache:
    cache.update(k, v)
    return cache


__all__ = ["EncoderGraph", "GraphSpec", "StepGraph", "graph_spec"]
