"""RNN encoder-decoder with attention (Bahdanau et al. 2015; Luong et al. 2015).

Bahdanau, Cho, Bengio. "Neural Machine Translation by Jointly Learning to Align and
Translate", ICLR 2015. Luong, Pham, Manning. "Effective Approaches to Attention-based
Neural Machine Translation", EMNLP 2015 (input feeding, the attentional vector).

Notation for tensor shapes:
    B   batch size (sentences, or sentences x beams while decoding)
    Ls  source length, Lt target length
    E   embedding size, H hidden size (decoder state = encoder state = H)
    A   attentional vector size (E when embeddings are tied, else H)
    V   target vocabulary size

The model (one decoding step, Luong's "global attention" flow with input feeding):

    h_t  = RNN([emb(y_{t-1}); att_{t-1}], h_{t-1})          # stacked GRU / LSTM cells
    c_t, a_t = Attention(query=h_t, keys=encoder states)      # additive or multiplicative
    att_t = tanh(W_c [h_t; c_t])                              # attentional vector
    p(y_t) = softmax(W_o att_t)

Speed: the first decoder layer's input projection of the target embeddings, and the output
projection, are computed once for all steps in teacher forcing; only the recurrence and the
attention run step by step. Additive attention projects the encoder states once per source
(``precompute_keys``).

Example:
    >>> model = Seq2Seq(Seq2SeqConfig(), src_vocab=100, tgt_vocab=120)  # the default recipe
    >>> src = torch.randint(4, 100, (2, 7)); lengths = torch.tensor([7, 5])
    >>> tgt_in = torch.randint(4, 120, (2, 6))
    >>> logits, attn = model(src, lengths, tgt_in)   # (2, 6, 120), (2, 6, 7)
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from attnkit.attention import AdditiveAttention, LuongAttention, MultiHeadAttention, coverage_loss
from attnkit.models.output import step_log_probs
from attnkit.models.unpacked_rnn import UnpackedBiRNN
from attnkit.specials import PAD_ID, UNK_ID

RNN_TYPES = ("gru", "lstm")
ATTENTION_TYPES = ("bahdanau", "luong_dot", "luong_general", "luong_concat")


@dataclass
class Seq2SeqConfig:
    """Hyperparameters of :class:`Seq2Seq` (the vocabulary sizes come from the data).

    The defaults are the translation recipe measured on the Bible corpus
    (``configs/translate_es_en.yaml``): GRU 256 with Bahdanau attention, tied embeddings.

    Attributes:
        emb_dim: embedding size E of source and target tokens.
        hidden_dim: H, the decoder state size and the encoder state size (each encoder
            direction has H // 2 units, so H must be even).
        enc_layers: layers of the bidirectional encoder RNN.
        dec_layers: layers of the decoder RNN.
        rnn: "gru" or "lstm".
        attention: "bahdanau" (additive), "luong_dot", "luong_general" or "luong_concat".
        attention_dim: hidden size of the additive / concat score; None = H.
        self_attention_heads: 0 = off; else a multi-head self-attention layer (+ residual
            + LayerNorm) over the encoder states, masked by source padding.
        dropout: dropout on embeddings, between RNN layers and on the attentional vector.
        tie_embeddings: share the decoder input embedding with the output projection
            (the attentional vector then has size E).
        input_feeding: feed the previous attentional vector to the decoder RNN.
        coverage: See et al.'s coverage: the decoder state carries the sum of past attention
            weights, which enters the attention score (``w_c``, initialised to zero, so a
            model without coverage loads into one with it unchanged) and
            :func:`~attnkit.attention.coverage_loss` can penalise attending twice.
    """

    emb_dim: int = 256
    hidden_dim: int = 256
    enc_layers: int = 1
    dec_layers: int = 1
    rnn: Literal["gru", "lstm"] = "gru"
    attention: Literal["bahdanau", "luong_dot", "luong_general", "luong_concat"] = "bahdanau"
    attention_dim: int | None = None
    self_attention_heads: int = 0
    dropout: float = 0.2
    tie_embeddings: bool = True
    input_feeding: bool = True
    coverage: bool = False

    def __post_init__(self) -> None:
        if self.rnn not in RNN_TYPES:
            raise ValueError(f"unknown rnn {self.rnn!r}; valid: {', '.join(RNN_TYPES)}")
        if self.attention not in ATTENTION_TYPES:
            raise ValueError(
                f"unknown attention {self.attention!r}; valid: {', '.join(ATTENTION_TYPES)}"
            )
        for name in ("emb_dim", "hidden_dim", "enc_layers", "dec_layers"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.hidden_dim % 2:
            raise ValueError(
                f"hidden_dim must be even (two encoder directions), got {self.hidden_dim}"
            )
        if self.self_attention_heads < 0 or (
            self.self_attention_heads and self.hidden_dim % self.self_attention_heads
        ):
            raise ValueError(
                f"self_attention_heads ({self.self_attention_heads}) must be 0 or divide "
                f"hidden_dim ({self.hidden_dim})"
            )
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {self.dropout}")


@dataclass
class EncoderOutput:
    """What the decoder needs from the encoder.

    Attributes:
        states: (B, Ls, H) encoder states (zero-padded past each length).
        mask: (B, Ls) bool, True = real source token.
        lengths: (B,) source lengths.
        final: (B, H) last encoder layer's final forward and backward states.
        final_cell: (B, H) the same for the LSTM cell state, else None.
        proj_keys: (B, Ls, attention hidden) keys projected once, or None.
        src_ext: (B, Ls) the source ids as given, extended-vocabulary ids included (what a
            pointer-generator copies from), or None.
        ext_vocab: the extended vocabulary size of the batch (V + its most source OOVs).
        group: decoder rows per encoder row: beam search's K beams of a sentence share its
            encoder row (rows ``b * group ... b * group + group - 1``), so the attention reads
            each source's keys and values once, not once per beam (:meth:`index_select`).
    """

    states: Tensor
    mask: Tensor
    lengths: Tensor
    final: Tensor
    final_cell: Tensor | None = None
    proj_keys: Tensor | None = None
    src_ext: Tensor | None = None
    ext_vocab: int = 0
    group: int = 1

    def index_select(self, indices: Tensor) -> EncoderOutput:
        """Decoder rows ``indices`` (beam expansion, batch shrinking).

        When the selected rows come in consecutive blocks of one size that each read one
        encoder row (``arange(B).repeat_interleave(K)``, or the blocks of the sentences a
        beam search keeps), the encoder rows are kept once per block and ``group`` is the
        block size; otherwise every selected row gets its own copy (``group`` 1).

        Example:
            >>> enc = EncoderOutput(torch.randn(2, 3, 4), torch.ones(2, 3, dtype=torch.bool),
            ...                     torch.tensor([3, 3]), torch.randn(2, 4))
            >>> beams = enc.index_select(torch.arange(2).repeat_interleave(5))
            >>> beams.states.shape[0], beams.group
            (2, 5)
            >>> kept = beams.index_select(torch.arange(5, 10))  # sentence 0 is done
            >>> torch.equal(kept.states, enc.states[1:]), kept.group
            (True, 5)
        """
        rows = torch.div(indices, self.group, rounding_mode="floor")  # encoder rows
        group = 1 if torch.compiler.is_exporting() else _block_size(rows)
        rows = rows[::group]
        return EncoderOutput(
            states=self.states.index_select(0, rows),
            mask=self.mask.index_select(0, rows),
            lengths=self.lengths.index_select(0, rows),
            final=self.final.index_select(0, rows),
            final_cell=None if self.final_cell is None else self.final_cell.index_select(0, rows),
            proj_keys=None if self.proj_keys is None else self.proj_keys.index_select(0, rows),
            src_ext=None if self.src_ext is None else self.src_ext.index_select(0, rows),
            ext_vocab=self.ext_vocab,
            group=group,
        )

    def per_row(self, x: Tensor) -> Tensor:
        """An encoder-row tensor (B_enc, ...) repeated for each decoder row (B_enc * group, ...)."""
        return x if self.group == 1 else x.repeat_interleave(self.group, dim=0)


def _block_size(rows: Tensor) -> int:
    """The length g of the consecutive runs of ``rows`` when all runs have that length and
    no value comes back in a later run, else 1.

    Example:
        >>> _block_size(torch.tensor([4, 4, 2, 2])), _block_size(torch.tensor([0, 0, 0, 1]))
        (2, 1)
    """
    n = rows.numel()
    if n < 2:
        return 1
    g = int((rows != rows[0]).nonzero()[0]) if bool((rows != rows[0]).any()) else n
    if g == 1 or n % g:
        return 1
    blocks = rows.view(-1, g)  # (n / g, g)
    firsts = blocks[:, 0]
    if not bool((blocks == firsts[:, None]).all()) or firsts.unique().numel() != firsts.numel():
        return 1
    return g


@dataclass
class DecoderState:
    """Recurrent decoder state.

    Attributes:
        hidden: (dec_layers, B, H).
        cell: (dec_layers, B, H) for LSTM, else None.
        feed: (B, A) previous attentional vector (zeros at the start).
        coverage: (B, Ls) sum of the attention weights so far (models with coverage), else None.
    """

    hidden: Tensor
    cell: Tensor | None
    feed: Tensor
    coverage: Tensor | None = None

    def index_select(self, indices: Tensor) -> DecoderState:
        return DecoderState(
            hidden=self.hidden.index_select(1, indices),
            cell=None if self.cell is None else self.cell.index_select(1, indices),
            feed=self.feed.index_select(0, indices),
            coverage=None if self.coverage is None else self.coverage.index_select(0, indices),
        )


@dataclass
class TeacherForced:
    """Per-step outputs of :meth:`Seq2Seq.teacher_force` (all stacked over the Lt steps).

    Attributes:
        att: (B, Lt, A) attentional vectors (the output layer's input).
        attn: (B, Lt, Ls) attention weights.
        context: (B, Lt, H) attention contexts.
        query: (B, Lt, H) top decoder states.
        emb: (B, Lt, E) decoder input embeddings (after dropout).
        coverage_loss: (B, Lt) ``sum_i min(a_ti, c_ti)`` per step, or None without coverage.
    """

    att: Tensor
    attn: Tensor
    context: Tensor
    query: Tensor
    emb: Tensor
    coverage_loss: Tensor | None


def _gru_update(gi: Tensor, gh: Tensor, h: Tensor) -> Tensor:
    """GRU update from input / hidden projections gi, gh (B, 3H) (PyTorch gate order r, z, n).

    ``split`` / ``chunk`` rather than slices: their backward is one concatenation, where
    each slice's backward would allocate and fill a full-size zero gradient. Under bf16
    autocast the projections arrive in bf16; the gates and the state are computed in float32
    so that rounding does not accumulate along the recurrence.
    """
    gi, gh, h = gi.float(), gh.float(), h.float()
    hdim = h.size(-1)
    gi_rz, gi_n = gi.split([2 * hdim, hdim], dim=1)  # (B, 2H), (B, H)
    gh_rz, gh_n = gh.split([2 * hdim, hdim], dim=1)
    r, z = torch.sigmoid(gi_rz + gh_rz).chunk(2, dim=1)  # (B, H) each
    n = torch.tanh(torch.addcmul(gi_n, r, gh_n))  # (B, H)
    return torch.lerp(n, h, z)  # (1 - z) * n + z * h


def _lstm_update(gi: Tensor, gh: Tensor, c: Tensor) -> tuple[Tensor, Tensor]:
    """LSTM update from input / hidden projections (B, 4H) (PyTorch gate order i, f, g, o).

    Gates and states in float32 (see :func:`_gru_update`).
    """
    i, f, g, o = (gi.float() + gh.float()).chunk(4, dim=1)  # (B, H) each
    c_new = torch.addcmul(torch.sigmoid(f) * c, torch.sigmoid(i), torch.tanh(g))
    return torch.sigmoid(o) * torch.tanh(c_new), c_new


class Seq2Seq(nn.Module):
    """Bidirectional RNN encoder + attentional RNN decoder with input feeding.

    Args:
        cfg: the hyperparameters (see :class:`Seq2SeqConfig`).
        src_vocab: source vocabulary size (id 0 is padding).
        tgt_vocab: target vocabulary size (id 0 is padding).

    Raises:
        ValueError: a vocabulary size below 1.

    Implements the decoding step interface of :mod:`attnkit.decoding`
    (``encode`` / ``init_decoder_state`` / ``decode_step`` / ``reorder``).
    """

    def __init__(self, cfg: Seq2SeqConfig, *, src_vocab: int, tgt_vocab: int) -> None:
        super().__init__()
        for name, size in (("src_vocab", src_vocab), ("tgt_vocab", tgt_vocab)):
            if size < 1:
                raise ValueError(f"{name} must be >= 1, got {size}")
        self.cfg = cfg
        self.src_vocab, self.tgt_vocab = src_vocab, tgt_vocab
        E, H = cfg.emb_dim, cfg.hidden_dim
        A = E if cfg.tie_embeddings else H
        self.att_dim = A
        self.src_embed = nn.Embedding(src_vocab, E, padding_idx=PAD_ID)
        self.tgt_embed = nn.Embedding(tgt_vocab, E, padding_idx=PAD_ID)
        self.dropout = nn.Dropout(cfg.dropout)

        rnn_cls = nn.GRU if cfg.rnn == "gru" else nn.LSTM
        self.encoder = rnn_cls(
            E,
            H // 2,
            num_layers=cfg.enc_layers,
            batch_first=True,
            bidirectional=True,
            dropout=cfg.dropout if cfg.enc_layers > 1 else 0.0,
        )
        if cfg.self_attention_heads:
            self.self_attn: MultiHeadAttention | None = MultiHeadAttention(
                H, cfg.self_attention_heads, dropout=cfg.dropout
            )
            self.self_attn_norm: nn.LayerNorm | None = nn.LayerNorm(H)
        else:
            self.self_attn = None
            self.self_attn_norm = None

        # Bridge: encoder final states -> decoder initial state of every layer.
        self.bridge = nn.Linear(H, cfg.dec_layers * H)
        self.bridge_cell = nn.Linear(H, cfg.dec_layers * H) if cfg.rnn == "lstm" else None

        cell_cls = nn.GRUCell if cfg.rnn == "gru" else nn.LSTMCell
        in0 = E + (A if cfg.input_feeding else 0)
        self.decoder_cells = nn.ModuleList(
            [cell_cls(in0 if i == 0 else H, H) for i in range(cfg.dec_layers)]
        )

        att_hidden = cfg.attention_dim or H
        if cfg.attention == "bahdanau":
            self.attention: nn.Module = AdditiveAttention(H, H, att_hidden, coverage=cfg.coverage)
        else:
            mode = cfg.attention.removeprefix("luong_")
            self.attention = LuongAttention(
                H,
                H,
                mode=mode,
                hidden_dim=att_hidden if mode == "concat" else None,
                coverage=cfg.coverage,
            )
        self._precompute = hasattr(self.attention, "precompute_keys")
        self.att_combine = nn.Linear(2 * H, A, bias=False)  # W_c [h_t; c_t]
        self.output = nn.Linear(A, tgt_vocab, bias=not cfg.tie_embeddings)
        self._init_weights()
        if cfg.tie_embeddings:
            self.output.weight = self.tgt_embed.weight

    # ------------------------------------------------------------------ init
    def _init_weights(self) -> None:
        """Xavier for projections, orthogonal recurrent weights, zero biases (LSTM forget 1)."""
        for module in self.modules():
            if isinstance(module, nn.Linear):
                nn.init.xavier_uniform_(module.weight)
                if module.bias is not None:
                    nn.init.zeros_(module.bias)
            elif isinstance(module, nn.Embedding):
                nn.init.normal_(module.weight, std=module.embedding_dim**-0.5)
                with torch.no_grad():
                    module.weight[PAD_ID].zero_()
            elif isinstance(module, nn.LayerNorm):
                nn.init.ones_(module.weight)
                nn.init.zeros_(module.bias)
        gates = 3 if self.cfg.rnn == "gru" else 4
        recurrent = [self.encoder, *self.decoder_cells]
        for rnn in recurrent:
            for name, p in rnn.named_parameters():
                if "weight_hh" in name:
                    for chunk in p.data.chunk(gates, 0):
                        nn.init.orthogonal_(chunk)
                elif "weight_ih" in name:
                    for chunk in p.data.chunk(gates, 0):
                        nn.init.xavier_uniform_(chunk)
                elif "bias" in name:
                    nn.init.zeros_(p)
                    if self.cfg.rnn == "lstm" and "bias_ih" in name:
                        p.data.chunk(4, 0)[1].fill_(1.0)  # forget gate
        if getattr(self.attention, "coverage_proj", None) is not None:
            nn.init.zeros_(self.attention.coverage_proj.weight)  # coverage starts switched off

    # ------------------------------------------------------------------ encoder
    @cached_property
    def _unpacked_encoder(self) -> UnpackedBiRNN:
        """The encoder run unpacked, sharing its weights; kept in the instance's ``__dict__``
        (a cached property), outside the module tree, so that ``state_dict``, ``parameters``
        and ``.to`` see the encoder once."""
        return UnpackedBiRNN(self.encoder)

    def encode(self, src: Tensor, src_lengths: Tensor) -> EncoderOutput:
        """Encode a padded source batch.

        Args:
            src: (B, Ls) token ids, padded with 0.
            src_lengths: (B,) true lengths (>= 1).

        Returns:
            An :class:`EncoderOutput` with states (B, Ls, H).
        """
        if src.dim() != 2 or src_lengths.shape != src.shape[:1]:
            raise ValueError(
                f"src must be (B, Ls) and src_lengths (B,), got {tuple(src.shape)} and "
                f"{tuple(src_lengths.shape)}"
            )
        Ls = src.size(1)
        emb = self.dropout(self.src_embed(src))  # (B, Ls, E)
        if self.cfg.rnn == "gru" and src.device.type == "cpu":
            # Unpacked: the same results, and a Bible training step 9% faster on the CPU,
            # where the packed GRU's backward zero-fills a full-size gradient at every step.
            between = self.encoder.dropout if self.training else 0.0
            states, last = self._unpacked_encoder(emb, src_lengths.clamp_min(1), dropout=between)
            return self.finish_encoding(states, src_lengths, last)  # (B, Ls, H), (B, H)
        packed = pack_padded_sequence(  # a fully padded row runs one step; its mask is empty
            emb, src_lengths.clamp_min(1).cpu(), batch_first=True, enforce_sorted=False
        )
        out, final = self.encoder(packed)
        states, _ = pad_packed_sequence(out, batch_first=True, total_length=Ls)  # (B, Ls, H)
        h_n, c_n = final if isinstance(final, tuple) else (final, None)
        # h_n: (enc_layers * 2, B, H/2); the last layer's two directions -> (B, H)
        last = torch.cat([h_n[-2], h_n[-1]], dim=-1)
        last_cell = None if c_n is None else torch.cat([c_n[-2], c_n[-1]], dim=-1)
        return self.finish_encoding(states, src_lengths, last, last_cell)

    def finish_encoding(
        self, states: Tensor, src_lengths: Tensor, last: Tensor, last_cell: Tensor | None = None
    ) -> EncoderOutput:
        """The :class:`EncoderOutput` of the recurrent encoder's ``states`` (B, Ls, H) and
        final states ``last`` / ``last_cell`` (B, H): the source mask, the optional
        self-attention layer, the projected keys. (An exported encoder runs the RNN its own
        way and finishes here.)"""
        Ls = states.size(1)
        mask = (
            torch.arange(Ls, device=states.device)[None, :] < src_lengths.to(states.device)[:, None]
        )
        if self.self_attn is not None:
            assert self.self_attn_norm is not None
            sa, _ = self.self_attn(states, mask=mask[:, None, None, :])  # (B, Ls, H)
            states = self.self_attn_norm(states + self.dropout(sa))
        proj = self.attention.precompute_keys(states) if self._precompute else None
        return EncoderOutput(
            states=states,
            mask=mask,
            lengths=src_lengths,
            final=last,
            final_cell=last_cell,
            proj_keys=proj,
        )

    # ------------------------------------------------------------------ decoder
    def init_decoder_state(self, enc: EncoderOutput) -> DecoderState:
        """Initial decoder state from the encoder's final states (tanh bridge), one per
        decoder row."""
        final = enc.per_row(enc.final)  # (B, H)
        B = final.size(0)
        L, H = self.cfg.dec_layers, self.cfg.hidden_dim
        hidden = torch.tanh(self.bridge(final)).view(B, L, H).transpose(0, 1)  # (L, B, H)
        cell = None
        if self.bridge_cell is not None:
            assert enc.final_cell is not None
            cell_in = enc.per_row(enc.final_cell)  # (B, H)
            cell = torch.tanh(self.bridge_cell(cell_in)).view(B, L, H).transpose(0, 1)
            cell = cell.contiguous()
        feed = final.new_zeros(B, self.att_dim)
        coverage = (
            final.new_zeros(B, enc.mask.size(1), dtype=torch.float32) if self.cfg.coverage else None
        )
        return DecoderState(hidden=hidden.contiguous(), cell=cell, feed=feed, coverage=coverage)

    def _cell_weights(self) -> list[tuple[Tensor | None, Tensor, Tensor, Tensor, Tensor]]:
        """Per decoder layer: (input-feeding weight or None, w_ih, b_ih, w_hh, b_hh).

        Layer 0's ``w_ih`` is the embedding part (G*H, E); the input-feeding part
        (G*H, A) is split off once per forward, not once per step.
        """
        E = self.cfg.emb_dim
        out = []
        for i, cell in enumerate(self.decoder_cells):
            if i == 0:
                w_emb, w_feed = cell.weight_ih.split([E, cell.weight_ih.size(1) - E], dim=1)
                out.append(
                    (
                        w_feed if self.cfg.input_feeding else None,
                        w_emb,
                        cell.bias_ih,
                        cell.weight_hh,
                        cell.bias_hh,
                    )
                )
            else:
                out.append((None, cell.weight_ih, cell.bias_ih, cell.weight_hh, cell.bias_hh))
        return out

    def _embed(self, tgt: Tensor, weights: list) -> tuple[Tensor, Tensor]:
        """Target embeddings (..., E) and their projection through layer 0's input weights
        (..., G*H). Ids past the vocabulary (a pointer model's copied words) embed as <unk>."""
        _, w_emb, b_ih, _, _ = weights[0]
        tgt = tgt.masked_fill(tgt >= self.tgt_vocab, UNK_ID)
        emb = self.dropout(self.tgt_embed(tgt))  # (..., E)
        return emb, F.linear(emb, w_emb, b_ih)

    def _step(
        self,
        enc: EncoderOutput,
        hidden: list[Tensor],
        cells: list[Tensor] | None,
        feed: Tensor,
        x0: Tensor,
        weights: list,
        coverage: Tensor | None = None,
    ) -> tuple[list[Tensor], list[Tensor] | None, Tensor, Tensor, Tensor]:
        """One decoder step given layer 0's embedding projection x0 (B, G*H).

        Args:
            hidden / cells: per layer (B, H) (cells only for LSTM).
            feed: (B, A) the previous attentional vector.
            coverage: (B, Ls) the attention so far (models with coverage).

        Returns:
            new hidden, new cells, the attentional vector (B, A), attention weights (B, Ls),
            the context (B, H).
        """
        new_h, new_c = [], []
        inp = feed
        for i, (w_feed, w_ih, b_ih, w_hh, b_hh) in enumerate(weights):
            if i == 0:
                gi = x0 if w_feed is None else torch.addmm(x0, feed, w_feed.t())  # (B, G*H)
            else:
                gi = F.linear(self.dropout(inp), w_ih, b_ih)  # (B, G*H)
            gh = F.linear(hidden[i], w_hh, b_hh)  # (B, G*H)
            if cells is not None:
                h, c = _lstm_update(gi, gh, cells[i])
                new_c.append(c)
            else:
                h = _gru_update(gi, gh, hidden[i])
            new_h.append(h)
            inp = h
        query = inp  # (B, H) top layer
        context, attn = self._attend(enc, query, coverage)  # (B, H), (B, Ls)
        att = self.dropout(torch.tanh(self.att_combine(torch.cat([query, context], dim=-1))))
        return new_h, (new_c if cells is not None else None), att, attn, context

    def _attend(
        self, enc: EncoderOutput, query: Tensor, coverage: Tensor | None
    ) -> tuple[Tensor, Tensor]:
        """Attention of each decoder row's query (B, H) over its source: context (B, H) and
        weights (B, Ls). Rows that share an encoder row (``enc.group`` > 1, the beams of one
        sentence) attend as ``group`` queries over it at once."""
        g = enc.group
        if g > 1:
            query = query.view(-1, g, query.size(-1))  # (B_enc, g, H)
            if coverage is not None:
                coverage = coverage.view(-1, g, coverage.size(-1))  # (B_enc, g, Ls)
        extra = {} if coverage is None else {"coverage": coverage}
        context, attn = self.attention(
            query, enc.states, mask=enc.mask, proj_keys=enc.proj_keys, **extra
        )  # (B, H), (B, Ls) | (B_enc, g, H), (B_enc, g, Ls)
        if g > 1:
            context, attn = context.flatten(0, 1), attn.flatten(0, 1)  # (B, H), (B, Ls)
        return context, attn

    def decode_step(
        self, enc: EncoderOutput, state: DecoderState, prev_tokens: Tensor
    ) -> tuple[Tensor, DecoderState, Tensor]:
        """One decoding step.

        Args:
            enc: the encoder output (rows aligned with ``prev_tokens``).
            state: the decoder state.
            prev_tokens: (B,) previous target tokens (BOS at the first step).

        Returns:
            log_probs (B, V) in float32, the new state, attention weights (B, Ls).
        """
        new_state, att, attn, _, _ = self._decode_one(enc, state, prev_tokens)
        return step_log_probs(self.output, att), new_state, attn  # (B, V) float32

    def _decode_one(
        self, enc: EncoderOutput, state: DecoderState, prev_tokens: Tensor
    ) -> tuple[DecoderState, Tensor, Tensor, Tensor, Tensor]:
        """One step: new state, attentional vector (B, A), attention (B, Ls), context (B, H)
        and input embedding (B, E); the coverage of the new state includes this step."""
        weights = self._cell_weights()
        emb, x0 = self._embed(prev_tokens, weights)  # (B, E), (B, G*H)
        cells = None if state.cell is None else list(state.cell.unbind(0))
        hidden, cells, att, attn, context = self._step(
            enc, list(state.hidden.unbind(0)), cells, state.feed, x0, weights, state.coverage
        )
        new_state = DecoderState(
            hidden=torch.stack(hidden),
            cell=None if cells is None else torch.stack(cells),
            feed=att,
            coverage=None if state.coverage is None else state.coverage + attn.float(),
        )
        return new_state, att, attn, context, emb

    def reorder(
        self, enc: EncoderOutput | None, state: DecoderState, indices: Tensor
    ) -> tuple[EncoderOutput | None, DecoderState]:
        """Select batch rows (beam search). ``enc=None`` leaves the encoder untouched."""
        return (None if enc is None else enc.index_select(indices)), state.index_select(indices)

    def forward(self, src: Tensor, src_lengths: Tensor, tgt_in: Tensor) -> tuple[Tensor, Tensor]:
        """Teacher forcing.

        Args:
            src: (B, Ls) source ids, padded with 0.
            src_lengths: (B,) source lengths.
            tgt_in: (B, Lt) decoder inputs (BOS y_1 ... y_{n-1}), padded with 0.

        Returns:
            logits (B, Lt, V) and attention weights (B, Lt, Ls).
        """
        out = self.teacher_force(self.encode(src, src_lengths), tgt_in)
        return self.output(out.att), out.attn  # (B, Lt, V) in one matmul, (B, Lt, Ls)

    def teacher_force(
        self, enc: EncoderOutput, tgt_in: Tensor, *, keep_inputs: bool = False
    ) -> TeacherForced:
        """Run the decoder over ``tgt_in`` (B, Lt); what each step computed, stacked.

        ``keep_inputs`` also stacks each step's context and query (``context`` / ``query``
        are otherwise empty tensors): what a pointer-generator's gate needs.
        """
        if tgt_in.dim() != 2 or tgt_in.size(0) != enc.states.size(0):
            raise ValueError(
                f"tgt_in must be (B, Lt) with B = {enc.states.size(0)}, got {tuple(tgt_in.shape)}"
            )
        state = self.init_decoder_state(enc)
        weights = self._cell_weights()
        emb, x0 = self._embed(tgt_in.t(), weights)  # (Lt, B, E), (Lt, B, G*H): one matmul
        hidden = list(state.hidden.unbind(0))  # per layer (B, H)
        cells = None if state.cell is None else list(state.cell.unbind(0))
        feed, coverage = state.feed, state.coverage  # (B, A), (B, Ls) | None
        atts, attns, contexts, queries, cov_losses = [], [], [], [], []
        for x0_t in x0.unbind(0):  # unbind: one backward op, not one zero-fill per step
            hidden, cells, feed, attn, context = self._step(
                enc, hidden, cells, feed, x0_t, weights, coverage
            )
            atts.append(feed)
            attns.append(attn)
            if keep_inputs:
                contexts.append(context)
                queries.append(hidden[-1])
            if coverage is not None:
                cov_losses.append(coverage_loss(attn.float(), coverage, enc.mask))  # (B,)
                coverage = coverage + attn.float()
        empty = feed.new_zeros(feed.size(0), 0, 0)
        return TeacherForced(
            att=torch.stack(atts, dim=1),
            attn=torch.stack(attns, dim=1),
            context=torch.stack(contexts, dim=1) if keep_inputs else empty,
            query=torch.stack(queries, dim=1) if keep_inputs else empty,
            emb=emb.transpose(0, 1),
            coverage_loss=torch.stack(cov_losses, dim=1) if cov_losses else None,
        )

    def num_parameters(self) -> int:
        """Trainable parameters (tied weights counted once)."""
        return sum(p.numel() for p in self.parameters() if p.requires_grad)


def seq2seq_bahdanau_small(src_vocab: int, tgt_vocab: int) -> Seq2Seq:
    """A small Bahdanau model: 1-layer bi-GRU encoder (256), GRU decoder (256), E=256.

    About 3 M parameters plus 256 x (src_vocab + 2 x tgt_vocab) for the embeddings and
    the output layer.
    """
    return Seq2Seq(
        Seq2SeqConfig(
            emb_dim=256,
            hidden_dim=256,
            enc_layers=1,
            dec_layers=1,
            rnn="gru",
            attention="bahdanau",
            dropout=0.2,
            tie_embeddings=False,
            input_feeding=True,
        ),
        src_vocab=src_vocab,
        tgt_vocab=tgt_vocab,
    )


__all__ = [
    "ATTENTION_TYPES",
    "RNN_TYPES",
    "DecoderState",
    "EncoderOutput",
    "Seq2Seq",
    "Seq2SeqConfig",
    "TeacherForced",
    "seq2seq_bahdanau_small",
]
