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
    >>> model = seq2seq_bahdanau_small(src_vocab=100, tgt_vocab=120)
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

PAD_ID = 0

RNN_TYPES = ("gru", "lstm")
ATTENTION_TYPES = ("bahdanau", "luong_dot", "luong_general", "luong_concat")


@dataclass
class Seq2SeqConfig:
    """Hyperparameters of :class:`Seq2Seq`.

    Attributes:
        src_vocab: source vocabulary size (id 0 is padding).
        tgt_vocab: target vocabulary size (id 0 is padding).
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

    src_vocab: int
    tgt_vocab: int
    emb_dim: int = 256
    hidden_dim: int = 512
    enc_layers: int = 1
    dec_layers: int = 1
    rnn: Literal["gru", "lstm"] = "gru"
    attention: Literal["bahdanau", "luong_dot", "luong_general", "luong_concat"] = "bahdanau"
    attention_dim: int | None = None
    self_attention_heads: int = 0
    dropout: float = 0.1
    tie_embeddings: bool = False
    input_feeding: bool = True

    def __post_init__(self) -> None:
        if self.rnn not in RNN_TYPES:
            raise ValueError(f"unknown rnn {self.rnn!r}; valid: {', '.join(RNN_TYPES)}")
        if self.attention not in ATTENTION_TYPES:
            raise ValueError(
                f"unknown attention {self.attention!r}; valid: {', '.join(ATTENTION_TYPES)}"
            )
        for name in ("src_vocab", "tgt_vocab", "emb_dim", "hidden_dim", "enc_layers", "dec_layers"):
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
    """GRU update from input / hidden projections gi, gh (B, 3H) (PyTorch gate order r, z, n)."""
    hdim = h.size(-1)
    rz = torch.sigmoid(gi[:, : 2 * hdim] + gh[:, : 2 * hdim])  # (B, 2H)
    r, z = rz[:, :hdim], rz[:, hdim:]
    n = torch.tanh(torch.addcmul(gi[:, 2 * hdim :], r, gh[:, 2 * hdim :]))  # (B, H)
    return torch.lerp(n, h, z)  # (1 - z) * n + z * h


def _lstm_update(gi: Tensor, gh: Tensor, c: Tensor) -> tuple[Tensor, Tensor]:
    """LSTM update from input / hidden projections (B, 4H) (PyTorch gate order i, f, g, o)."""
    gates = gi + gh  # (B, 4H)
    hdim = c.size(-1)
    ifo = torch.sigmoid(torch.cat([gates[:, : 2 * hdim], gates[:, 3 * hdim :]], dim=1))
    i, f, o = ifo[:, :hdim], ifo[:, hdim : 2 * hdim], ifo[:, 2 * hdim :]
    g = torch.tanh(gates[:, 2 * hdim : 3 * hdim])
    c_new = torch.addcmul(f * c, i, g)
    return o * torch.tanh(c_new), c_new


class Seq2Seq(nn.Module):
    """Bidirectional RNN encoder + attentional RNN decoder with input feeding.

    Args:
        cfg: the hyperparameters (see :class:`Seq2SeqConfig`).

    Implements the decoding step interface of :mod:`attnkit.decoding`
    (``encode`` / ``init_decoder_state`` / ``decode_step`` / ``reorder``).
    """

    def __init__(self, cfg: Seq2SeqConfig) -> None:
        super().__init__()
        self.cfg = cfg
        E, H = cfg.emb_dim, cfg.hidden_dim
        A = E if cfg.tie_embeddings else H
        self.att_dim = A
        self.src_embed = nn.Embedding(cfg.src_vocab, E, padding_idx=PAD_ID)
        self.tgt_embed = nn.Embedding(cfg.tgt_vocab, E, padding_idx=PAD_ID)
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
        self.output = nn.Linear(A, cfg.tgt_vocab, bias=not cfg.tie_embeddings)
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

    def _embed_proj(self, tgt: Tensor) -> Tensor:
        """Target embeddings through the first cell's input weights (the embedding part).

        tgt (...,) -> (..., G*H) including the input bias.
        """
        cell0 = self.decoder_cells[0]
        E = self.cfg.emb_dim
        emb = self.dropout(self.tgt_embed(tgt))  # (..., E)
        return F.linear(emb, cell0.weight_ih[:, :E], cell0.bias_ih)

    def _step(
        self, enc: EncoderOutput, state: DecoderState, x0: Tensor
    ) -> tuple[DecoderState, Tensor]:
        """One decoder step given the first layer's embedding projection x0 (B, G*H).

        Returns the new state (its ``feed`` is the attentional vector (B, A)) and the
        attention weights (B, Ls).
        """
        E = self.cfg.emb_dim
        is_lstm = state.cell is not None
        new_h, new_c = [], []
        inp = state.feed
        for i, cell in enumerate(self.decoder_cells):
            h = state.hidden[i]  # (B, H)
            if i == 0:
                gi = (
                    torch.addmm(x0, state.feed, cell.weight_ih[:, E:].t())
                    if self.cfg.input_feeding
                    else x0
                )  # (B, G*H)
            else:
                gi = F.linear(self.dropout(inp), cell.weight_ih, cell.bias_ih)
            gh = F.linear(h, cell.weight_hh, cell.bias_hh)  # (B, G*H)
            if is_lstm:
                assert state.cell is not None
                h, c = _lstm_update(gi, gh, state.cell[i])
                new_c.append(c)
            else:
                h = _gru_update(gi, gh, h)
            new_h.append(h)
            inp = h
        query = inp  # (B, H) top layer
        context, weights = self.attention(
            query, enc.states, mask=enc.mask, proj_keys=enc.proj_keys
        )  # (B, H), (B, Ls)
        att = self.dropout(torch.tanh(self.att_combine(torch.cat([query, context], dim=-1))))
        new_state = DecoderState(
            hidden=torch.stack(new_h),
            cell=torch.stack(new_c) if is_lstm else None,
            feed=att,  # (B, A)
        )
        return new_state, weights

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
        x0 = self._embed_proj(prev_tokens)  # (B, G*H)
        state, weights = self._step(enc, state, x0)
        logits = self.output(state.feed)  # (B, V)
        return torch.log_softmax(logits.float(), dim=-1), state, weights

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
        x0 = self._embed_proj(tgt_in.t())  # (Lt, B, G*H), one matmul for all steps
        atts, weights = [], []
        for t in range(tgt_in.size(1)):
            state, w = self._step(enc, state, x0[t])
            atts.append(state.feed)
            weights.append(w)
        att = torch.stack(atts, dim=1)  # (B, Lt, A)
        logits = self.output(att)  # (B, Lt, V), one matmul for all steps
        return logits, torch.stack(weights, dim=1)  # (B, Lt, Ls)

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
            src_vocab=src_vocab,
            tgt_vocab=tgt_vocab,
            emb_dim=256,
            hidden_dim=256,
            enc_layers=1,
            dec_layers=1,
            rnn="gru",
            attention="bahdanau",
            dropout=0.2,
            tie_embeddings=False,
            input_feeding=True,
        )
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
