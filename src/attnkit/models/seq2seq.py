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
from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from attnkit.attention import AdditiveAttention, LuongAttention, MultiHeadAttention
from attnkit.specials import PAD_ID

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
    """

    states: Tensor
    mask: Tensor
    lengths: Tensor
    final: Tensor
    final_cell: Tensor | None = None
    proj_keys: Tensor | None = None

    def index_select(self, indices: Tensor) -> EncoderOutput:
        """Rows `indices` of the batch (beam expansion, batch shrinking)."""
        return EncoderOutput(
            states=self.states.index_select(0, indices),
            mask=self.mask.index_select(0, indices),
            lengths=self.lengths.index_select(0, indices),
            final=self.final.index_select(0, indices),
            final_cell=None
            if self.final_cell is None
            else self.final_cell.index_select(0, indices),
            proj_keys=None if self.proj_keys is None else self.proj_keys.index_select(0, indices),
        )


@dataclass
class DecoderState:
    """Recurrent decoder state.

    Attributes:
        hidden: (dec_layers, B, H).
        cell: (dec_layers, B, H) for LSTM, else None.
        feed: (B, A) previous attentional vector (zeros at the start).
    """

    hidden: Tensor
    cell: Tensor | None
    feed: Tensor

    def index_select(self, indices: Tensor) -> DecoderState:
        return DecoderState(
            hidden=self.hidden.index_select(1, indices),
            cell=None if self.cell is None else self.cell.index_select(1, indices),
            feed=self.feed.index_select(0, indices),
        )


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
            self.attention: nn.Module = AdditiveAttention(H, H, att_hidden)
        else:
            mode = cfg.attention.removeprefix("luong_")
            self.attention = LuongAttention(
                H, H, mode=mode, hidden_dim=att_hidden if mode == "concat" else None
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

    # ------------------------------------------------------------------ encoder
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
        packed = pack_padded_sequence(
            emb, src_lengths.cpu(), batch_first=True, enforce_sorted=False
        )
        out, final = self.encoder(packed)
        states, _ = pad_packed_sequence(out, batch_first=True, total_length=Ls)  # (B, Ls, H)
        h_n, c_n = final if isinstance(final, tuple) else (final, None)
        # h_n: (enc_layers * 2, B, H/2); the last layer's two directions -> (B, H)
        last = torch.cat([h_n[-2], h_n[-1]], dim=-1)
        last_cell = None if c_n is None else torch.cat([c_n[-2], c_n[-1]], dim=-1)
        mask = torch.arange(Ls, device=src.device)[None, :] < src_lengths.to(src.device)[:, None]
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
        """Initial decoder state from the encoder's final states (tanh bridge)."""
        B = enc.final.size(0)
        L, H = self.cfg.dec_layers, self.cfg.hidden_dim
        hidden = torch.tanh(self.bridge(enc.final)).view(B, L, H).transpose(0, 1)  # (L, B, H)
        cell = None
        if self.bridge_cell is not None:
            assert enc.final_cell is not None
            cell = torch.tanh(self.bridge_cell(enc.final_cell)).view(B, L, H).transpose(0, 1)
            cell = cell.contiguous()
        feed = enc.final.new_zeros(B, self.att_dim)
        return DecoderState(hidden=hidden.contiguous(), cell=cell, feed=feed)

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

    def _embed_proj(self, tgt: Tensor, weights: list) -> Tensor:
        """Target embeddings through layer 0's input weights: (...,) -> (..., G*H)."""
        _, w_emb, b_ih, _, _ = weights[0]
        emb = self.dropout(self.tgt_embed(tgt))  # (..., E)
        return F.linear(emb, w_emb, b_ih)

    def _step(
        self,
        enc: EncoderOutput,
        hidden: list[Tensor],
        cells: list[Tensor] | None,
        feed: Tensor,
        x0: Tensor,
        weights: list,
    ) -> tuple[list[Tensor], list[Tensor] | None, Tensor, Tensor]:
        """One decoder step given layer 0's embedding projection x0 (B, G*H).

        Args:
            hidden / cells: per layer (B, H) (cells only for LSTM).
            feed: (B, A) the previous attentional vector.

        Returns:
            new hidden, new cells, the attentional vector (B, A), attention weights (B, Ls).
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
        context, attn = self.attention(
            query, enc.states, mask=enc.mask, proj_keys=enc.proj_keys
        )  # (B, H), (B, Ls)
        att = self.dropout(torch.tanh(self.att_combine(torch.cat([query, context], dim=-1))))
        return new_h, (new_c if cells is not None else None), att, attn

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
        weights = self._cell_weights()
        x0 = self._embed_proj(prev_tokens, weights)  # (B, G*H)
        cells = None if state.cell is None else list(state.cell.unbind(0))
        hidden, cells, att, attn = self._step(
            enc, list(state.hidden.unbind(0)), cells, state.feed, x0, weights
        )
        logits = self.output(att)  # (B, V)
        new_state = DecoderState(
            hidden=torch.stack(hidden), cell=None if cells is None else torch.stack(cells), feed=att
        )
        return torch.log_softmax(logits.float(), dim=-1), new_state, attn

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
        if tgt_in.dim() != 2 or tgt_in.size(0) != src.size(0):
            raise ValueError(
                f"tgt_in must be (B, Lt) with B = {src.size(0)}, got {tuple(tgt_in.shape)}"
            )
        enc = self.encode(src, src_lengths)
        state = self.init_decoder_state(enc)
        weights = self._cell_weights()
        x0 = self._embed_proj(tgt_in.t(), weights)  # (Lt, B, G*H), one matmul for all steps
        hidden = list(state.hidden.unbind(0))  # per layer (B, H)
        cells = None if state.cell is None else list(state.cell.unbind(0))
        feed = state.feed  # (B, A)
        atts, attns = [], []
        for x0_t in x0.unbind(0):  # unbind: one backward op, not one zero-fill per step
            hidden, cells, feed, attn = self._step(enc, hidden, cells, feed, x0_t, weights)
            atts.append(feed)
            attns.append(attn)
        att = torch.stack(atts, dim=1)  # (B, Lt, A)
        logits = self.output(att)  # (B, Lt, V), one matmul for all steps
        return logits, torch.stack(attns, dim=1)  # (B, Lt, Ls)

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
    "seq2seq_bahdanau_small",
]
