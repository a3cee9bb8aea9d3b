"""Pointer-generator network with coverage (See, Liu, Manning 2017, "Get To The Point").

A :class:`~attnkit.models.seq2seq.Seq2Seq` (bidirectional RNN encoder, Bahdanau attention,
input feeding) whose output mixes generating from the fixed vocabulary with copying source
words through the attention weights:

    p_gen  = sigmoid(w_c^T c_t + w_s^T s_t + w_x^T x_t + b)          # GenerationGate
    P(w)   = p_gen P_vocab(w) + (1 - p_gen) sum_{i: src_i = w} a_ti  # attention.pointer.mix

over the *extended* vocabulary: the source is given in extended ids, where each source word
outside the vocabulary has a temporary id ``>= V`` (:meth:`~attnkit.data.summaries.WordVocab.
encode_source`), so the model can emit words it never saw in training. Such ids embed as
``<unk>`` when fed back to the decoder. With ``cfg.coverage`` the attention also sees the
coverage vector (the sum of past attention) and the forward pass returns the coverage loss
``sum_i min(a_ti, c_ti)`` per step.

Source and target share one vocabulary and one embedding table (tied to the output layer
with ``tie_embeddings``).

Notation for tensor shapes: B batch, Ls source length, Lt target length, E embedding size,
H hidden size, V vocabulary, V_ext extended vocabulary (V + the batch's most source OOVs).

Example:
    >>> cfg = Seq2SeqConfig(emb_dim=16, hidden_dim=16, coverage=True)
    >>> model = PointerGenerator(cfg, vocab=30)
    >>> src = torch.tensor([[5, 31, 30, 3]])       # 30, 31: two source words outside V
    >>> tgt_in = torch.tensor([[2, 31, 7]]); tgt_out = torch.tensor([[31, 7, 3]])
    >>> out = model(src, torch.tensor([4]), tgt_in, tgt_out)
    >>> out.target_log_probs.shape, out.p_gen.shape, out.coverage_loss.shape
    (torch.Size([1, 3]), torch.Size([1, 3]), torch.Size([1, 3]))
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from attnkit.attention.pointer import GenerationGate, copy_distribution, mix
from attnkit.models.seq2seq import DecoderState, EncoderOutput, Seq2Seq, Seq2SeqConfig
from attnkit.specials import UNK_ID


@dataclass
class PointerOutput:
    """What :meth:`PointerGenerator.forward` returns.

    Attributes:
        log_probs: (B, Lt, V_ext) log of the final distribution, or None when targets were
            given (only their probabilities are computed then).
        target_log_probs: (B, Lt) log P(target token), or None without targets.
        attn: (B, Lt, Ls) attention weights.
        p_gen: (B, Lt) generation probabilities.
        coverage_loss: (B, Lt) ``sum_i min(a_ti, c_ti)``, or None without coverage.
    """

    log_probs: Tensor | None
    target_log_probs: Tensor | None
    attn: Tensor
    p_gen: Tensor
    coverage_loss: Tensor | None


class PointerGenerator(Seq2Seq):
    """Seq2Seq + copy attention + (optional) coverage over one shared word vocabulary.

    Args:
        cfg: the :class:`~attnkit.models.seq2seq.Seq2SeqConfig` (``coverage`` switches
            coverage on).
        vocab: V, the fixed vocabulary size (ids ``>= V`` in the source are copyable OOVs).

    Implements the step interface of :mod:`attnkit.decoding`: ``decode_step`` returns
    log-probabilities over the extended vocabulary of the batch, so greedy and beam search
    emit copied OOV ids as they are.
    """

    def __init__(self, cfg: Seq2SeqConfig, *, vocab: int) -> None:
        super().__init__(cfg, src_vocab=vocab, tgt_vocab=vocab)
        self.src_embed = self.tgt_embed  # one vocabulary, one embedding table
        self.gate = GenerationGate(cfg.hidden_dim, cfg.hidden_dim, cfg.emb_dim)

    def encode(self, src: Tensor, src_lengths: Tensor) -> EncoderOutput:
        """Encode (B, Ls) extended source ids; OOV ids embed as ``<unk>``, copying keeps them."""
        enc = super().encode(src.masked_fill(src >= self.src_vocab, UNK_ID), src_lengths)
        enc.src_ext = src
        enc.ext_vocab = max(self.tgt_vocab, int(src.max()) + 1 if src.numel() else 0)
        return enc

    def _gate_and_vocab(
        self, att: Tensor, context: Tensor, query: Tensor, emb: Tensor
    ) -> tuple[Tensor, Tensor]:
        """p_gen (..., 1) and P_vocab (..., V), in float32."""
        p_gen = self.gate(context, query, emb).float()
        return p_gen, torch.softmax(self.output(att).float(), dim=-1)

    def decode_step(
        self, enc: EncoderOutput, state: DecoderState, prev_tokens: Tensor
    ) -> tuple[Tensor, DecoderState, Tensor]:
        """One step: log P over the extended vocabulary (B, V_ext), new state, attention."""
        assert enc.src_ext is not None, "encode() the source with this model first"
        new_state, att, attn, context, emb = self._decode_one(enc, state, prev_tokens)
        p_gen, vocab = self._gate_and_vocab(att, context, new_state.hidden[-1], emb)
        src_ext = enc.per_row(enc.src_ext)  # (B, Ls)
        copy = copy_distribution(attn.float(), src_ext, enc.ext_vocab)  # (B, V_ext)
        return mix(p_gen, vocab, copy, log=True), new_state, attn

    def forward(  # type: ignore[override]
        self, src: Tensor, src_lengths: Tensor, tgt_in: Tensor, tgt_out: Tensor | None = None
    ) -> PointerOutput:
        """Teacher forcing.

        Args:
            src: (B, Ls) extended source ids, padded with 0.
            src_lengths: (B,) source lengths.
            tgt_in: (B, Lt) decoder inputs (BOS y_1 ... y_{n-1}; extended ids allowed).
            tgt_out: (B, Lt) targets in extended ids; given, only their probabilities are
                computed (no (B, Lt, V_ext) tensor), which is what training needs.

        Returns:
            A :class:`PointerOutput`.
        """
        enc = self.encode(src, src_lengths)
        out = self.teacher_force(enc, tgt_in, keep_inputs=True)
        p_gen, vocab = self._gate_and_vocab(out.att, out.context, out.query, out.emb)
        attn = out.attn.float()  # (B, Lt, Ls)
        if tgt_out is None:
            copy = copy_distribution(attn, src, enc.ext_vocab)  # (B, Lt, V_ext)
            log_probs, target = mix(p_gen, vocab, copy, log=True), None
        else:
            in_vocab = tgt_out < self.tgt_vocab  # (B, Lt)
            gen = vocab.gather(-1, tgt_out.masked_fill(~in_vocab, UNK_ID)[..., None]).squeeze(-1)
            gen = gen * in_vocab  # (B, Lt) P_vocab(target); 0 for an OOV target
            same = src[:, None, :] == tgt_out[:, :, None]  # (B, Lt, Ls) source copies of it
            copy = (attn * same).sum(-1)  # (B, Lt)
            p = p_gen.squeeze(-1)
            final = p * gen + (1.0 - p) * copy
            log_probs, target = None, final.clamp_min(torch.finfo(final.dtype).tiny).log()
        return PointerOutput(log_probs, target, out.attn, p_gen.squeeze(-1), out.coverage_loss)


__all__ = ["PointerGenerator", "PointerOutput"]
