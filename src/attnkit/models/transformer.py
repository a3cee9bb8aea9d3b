"""Transformer encoder-decoder for translation, built only from :mod:`attnkit.attention`.

Vaswani et al. 2017, "Attention Is All You Need", with the pre-LayerNorm residuals of
Xiong et al. 2020 ("On Layer Normalization in the Transformer Architecture": they train
without a long warm-up) and a final LayerNorm on each stack. The pieces:

* self-attention and cross-attention: :class:`~attnkit.attention.MultiHeadAttention`
  (grouped-query heads with ``kv_heads``); incremental decoding keeps each layer's keys and
  values in a :class:`~attnkit.attention.KVCache` (appending for self-attention, filled once
  for cross-attention), so step ``t`` costs ``O(t)`` instead of re-running the prefix;
* feed-forward: a plain MLP (``relu`` / ``gelu``) or a gated unit
  (:class:`~attnkit.attention.GatedUnit`: ``swiglu`` / ``geglu``, Shazeer 2020) whose hidden
  size is ``2/3`` of ``ff_dim``, so both have the same number of weights;
* residual: plain ``x + F(LN(x))`` or the highway "jump"
  (:class:`~attnkit.attention.GatedResidual`): ``g * F(LN(x)) + (1 - g) * x``;
* sinusoidal positions, embeddings scaled by ``sqrt(D)``; the target embedding is the output
  projection (``tie_embeddings``) and, over a joint vocabulary, also the source embedding.

Notation for tensor shapes: B batch (sentences x beams while decoding), Ls source length,
Lt target length, D model width, H heads, Dh = D / H, N layers, V vocabulary.

Example:
    >>> model = Transformer(TransformerConfig(dim=32, heads=4, ff_dim=64), src_vocab=50,
    ...                     tgt_vocab=50).eval()
    >>> src = torch.randint(4, 50, (2, 7)); lengths = torch.tensor([7, 5])
    >>> logits, attn = model(src, lengths, torch.randint(4, 50, (2, 6)), return_attention=True)
    >>> logits.shape, attn.shape  # (B, Lt, V), last layer's cross-attention (B, Lt, Ls)
    (torch.Size([2, 6, 50]), torch.Size([2, 6, 7]))
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from attnkit.attention import GatedResidual, GatedUnit, KVCache, MultiHeadAttention
from attnkit.models.output import step_log_probs
from attnkit.specials import PAD_ID, UNK_ID

FEED_FORWARDS = ("swiglu", "geglu", "gelu", "relu")
RESIDUALS = ("plain", "gated")

__all__ = [
    "FEED_FORWARDS",
    "RESIDUALS",
    "DecoderBlock",
    "EncoderBlock",
    "Transformer",
    "TransformerConfig",
    "TransformerEncoding",
    "TransformerState",
    "feed_forward",
    "sinusoidal_positions",
]


def sinusoidal_positions(
    length: int, dim: int, device: torch.device | None = None, *, start: int = 0
) -> Tensor:
    """Vaswani et al.'s position encoding ``(length, dim)`` of positions ``start, start + 1, ...``:
    sin on even features, cos on odd ones.

    Example:
        >>> pe = sinusoidal_positions(4, 6)
        >>> pe.shape, pe[0, 0].item(), pe[0, 1].item()
        (torch.Size([4, 6]), 0.0, 1.0)
        >>> torch.equal(sinusoidal_positions(1, 6, start=3), pe[3:4])
        True
    """
    pos = torch.arange(start, start + length, device=device, dtype=torch.float32)[:, None]
    freq = torch.exp(
        torch.arange(0, dim, 2, device=device, dtype=torch.float32) * (-math.log(10000.0) / dim)
    )  # (ceil(dim / 2),)
    pe = torch.zeros(length, dim, device=device)  # (L, dim)
    pe[:, 0::2] = torch.sin(pos * freq)
    pe[:, 1::2] = torch.cos(pos * freq[: dim // 2])
    return pe


def feed_forward(dim: int, ff_dim: int, kind: str, dropout: float) -> nn.Sequential:
    """The position-wise feed-forward ``(..., D) -> (..., D)``.

    ``relu`` / ``gelu``: ``Linear(D, ff_dim) -> act -> Dropout -> Linear(ff_dim, D)``;
    ``swiglu`` / ``geglu``: ``GatedUnit(D, h) -> Dropout -> Linear(h, D)`` with
    ``h = round(2 * ff_dim / 3)``: three ``D x h`` matrices, as many weights as the MLP's two.

    Example:
        >>> mlp, glu = feed_forward(24, 96, "gelu", 0.0), feed_forward(24, 96, "swiglu", 0.0)
        >>> [sum(p.numel() for n, p in m.named_parameters() if "weight" in n) for m in (mlp, glu)]
        [4608, 4608]
    """
    if kind not in FEED_FORWARDS:
        raise ValueError(f"unknown feed_forward {kind!r}; valid: {', '.join(FEED_FORWARDS)}")
    if kind in ("relu", "gelu"):
        act = nn.ReLU() if kind == "relu" else nn.GELU()
        return nn.Sequential(
            nn.Linear(dim, ff_dim), act, nn.Dropout(dropout), nn.Linear(ff_dim, dim)
        )
    hidden = round(2 * ff_dim / 3)
    gate = GatedUnit(dim, hidden, activation="silu" if kind == "swiglu" else "gelu")
    return nn.Sequential(gate, nn.Dropout(dropout), nn.Linear(hidden, dim))


class ResidualAdd(nn.Module):
    """Adds a sublayer's output to its input: ``x + drop(fx)``, or with ``gated=True`` the
    highway jump ``g * drop(fx) + (1 - g) * x`` (:class:`~attnkit.attention.GatedResidual`)."""

    def __init__(self, dim: int, *, gated: bool, dropout: float) -> None:
        super().__init__()
        self.drop = nn.Dropout(dropout)
        self.jump = GatedResidual(dim, nn.Identity()) if gated else None

    def forward(self, x: Tensor, fx: Tensor) -> Tensor:
        """``x, fx (..., D) -> (..., D)``."""
        fx = self.drop(fx)
        return x + fx if self.jump is None else self.jump.combine(x, fx)


class EncoderBlock(nn.Module):
    """Pre-LN self-attention block: ``x + MHA(LN(x))`` then ``x + FFN(LN(x))``.

    Example:
        >>> block = EncoderBlock(8, num_heads=2, ffn_dim=16, dropout=0.0)
        >>> x, mask = torch.randn(1, 3, 8), torch.ones(1, 1, 1, 3, dtype=torch.bool)
        >>> block(x, mask)[0].shape
        torch.Size([1, 3, 8])
    """

    def __init__(
        self,
        dim: int,
        *,
        num_heads: int,
        ffn_dim: int,
        dropout: float,
        feed_forward_kind: str = "gelu",
        residual: str = "plain",
        kv_heads: int | None = None,
        attention_dropout: float = 0.0,
    ) -> None:
        super().__init__()
        gated = _gated(residual)
        self.norm1 = nn.LayerNorm(dim)
        self.attn = MultiHeadAttention(
            dim, num_heads, num_kv_heads=kv_heads, dropout=attention_dropout
        )
        self.add1 = ResidualAdd(dim, gated=gated, dropout=dropout)
        self.norm2 = nn.LayerNorm(dim)
        self.ffn = feed_forward(dim, ffn_dim, feed_forward_kind, dropout)
        self.add2 = ResidualAdd(dim, gated=gated, dropout=dropout)

    def forward(
        self, x: Tensor, mask: Tensor, *, return_weights: bool = False
    ) -> tuple[Tensor, Tensor | None]:
        """``x (B, L, D)``, ``mask (B, 1, 1, L)`` bool True = real key -> ``(x, weights)``."""
        h, weights = self.attn(self.norm1(x), mask=mask, return_weights=return_weights)
        x = self.add1(x, h)  # (B, L, D)
        x = self.add2(x, self.ffn(self.norm2(x)))  # (B, L, D)
        return x, weights  # weights: (B, H, L, L) or None


class DecoderBlock(nn.Module):
    """Pre-LN decoder block: causal self-attention, cross-attention, feed-forward."""

    def __init__(self, cfg: TransformerConfig) -> None:
        super().__init__()
        D, gated = cfg.dim, _gated(cfg.residual)
        self.norm1 = nn.LayerNorm(D)
        self.self_attn = MultiHeadAttention(
            D, cfg.heads, num_kv_heads=cfg.kv_heads, dropout=cfg.attention_dropout
        )
        self.add1 = ResidualAdd(D, gated=gated, dropout=cfg.dropout)
        self.norm2 = nn.LayerNorm(D)
        self.cross_attn = MultiHeadAttention(
            D, cfg.heads, num_kv_heads=cfg.kv_heads, dropout=cfg.attention_dropout
        )
        self.add2 = ResidualAdd(D, gated=gated, dropout=cfg.dropout)
        self.norm3 = nn.LayerNorm(D)
        self.ffn = feed_forward(D, cfg.ff_dim, cfg.feed_forward, cfg.dropout)
        self.add3 = ResidualAdd(D, gated=gated, dropout=cfg.dropout)

    def forward(
        self,
        x: Tensor,
        memory: Tensor | None,
        memory_mask: Tensor,
        *,
        self_cache: KVCache | None = None,
        cross_cache: KVCache | None = None,
        return_weights: bool = False,
    ) -> tuple[Tensor, Tensor | None]:
        """One block.

        Args:
            x: (B, Lt, D) target states (Lt = 1 when decoding step by step with caches).
            memory: (B, Ls, D) encoder states (None once ``cross_cache`` is filled).
            memory_mask: (B, 1, 1, Ls) bool, True = real source token.
            self_cache / cross_cache: the step-by-step decoding caches.
            return_weights: also return the cross-attention weights.

        Returns:
            (B, Lt, D) states and the (B, H, Lt, Ls) cross-attention weights or None.
        """
        h, _ = self.self_attn(self.norm1(x), causal=True, cache=self_cache)
        x = self.add1(x, h)
        h, weights = self.cross_attn(
            self.norm2(x),
            memory,
            mask=memory_mask,
            cache=cross_cache,
            return_weights=return_weights,
        )
        x = self.add2(x, h)
        x = self.add3(x, self.ffn(self.norm3(x)))
        return x, weights


@dataclass
class TransformerConfig:
    """Hyperparameters of :class:`Transformer` (the vocabulary sizes come from the data).

    Attributes:
        dim: model width D (embeddings, attention, residual stream).
        heads: attention heads H (must divide ``dim``).
        kv_heads: key/value heads for grouped-query attention (None: ``heads``).
        enc_layers / dec_layers: blocks in the encoder / decoder.
        ff_dim: hidden size of a plain MLP feed-forward (gated ones use ``2/3`` of it).
        feed_forward: "swiglu" | "geglu" (gated units) | "gelu" | "relu" (plain MLPs).
        residual: "plain" (``x + F(x)``) | "gated" (the highway jump of ``GatedResidual``).
        dropout: on embeddings, sublayer outputs and inside the feed-forward.
        attention_dropout: on the attention probabilities.
        tie_embeddings: the target embedding is also the output projection.
        share_embeddings: source and target share one embedding (needs one joint vocabulary:
            :class:`Transformer` checks that both sizes are equal).
    """

    dim: int = 256
    heads: int = 4
    kv_heads: int | None = None
    enc_layers: int = 3
    dec_layers: int = 3
    ff_dim: int = 1024
    feed_forward: str = "swiglu"
    residual: str = "plain"
    dropout: float = 0.1
    attention_dropout: float = 0.0
    tie_embeddings: bool = True
    share_embeddings: bool = True

    def __post_init__(self) -> None:
        for name in ("dim", "heads", "enc_layers", "dec_layers", "ff_dim"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.dim % self.heads:
            raise ValueError(f"heads ({self.heads}) must divide dim ({self.dim})")
        if self.feed_forward not in FEED_FORWARDS:
            raise ValueError(
                f"unknown feed_forward {self.feed_forward!r}; valid: {', '.join(FEED_FORWARDS)}"
            )
        _gated(self.residual)
        for name in ("dropout", "attention_dropout"):
            if not 0.0 <= getattr(self, name) < 1.0:
                raise ValueError(f"{name} must be in [0, 1), got {getattr(self, name)}")


def _gated(residual: str) -> bool:
    if residual not in RESIDUALS:
        raise ValueError(f"unknown residual {residual!r}; valid: {', '.join(RESIDUALS)}")
    return residual == "gated"


@dataclass
class TransformerEncoding:
    """The encoder's output: states (B, Ls, D), mask (B, Ls) bool (True = real token),
    lengths (B,)."""

    states: Tensor
    mask: Tensor
    lengths: Tensor

    def index_select(self, indices: Tensor) -> TransformerEncoding:
        """Rows ``indices`` of the batch (beam expansion, batch shrinking)."""
        return TransformerEncoding(
            self.states.index_select(0, indices),
            self.mask.index_select(0, indices),
            self.lengths.index_select(0, indices),
        )


@dataclass
class TransformerState:
    """Decoder state between steps: per layer a self-attention cache (appended to) and a
    cross-attention cache (filled at the first step), and the number of steps taken."""

    self_caches: list[KVCache]
    cross_caches: list[KVCache]
    step: int = 0

    def index_select(self, indices: Tensor) -> TransformerState:
        """Rows ``indices`` (surviving beams, remaining sentences): new caches, same step."""
        return TransformerState(
            [_select(c, indices) for c in self.self_caches],
            [_select(c, indices) for c in self.cross_caches],
            self.step,
        )


def _select(cache: KVCache, indices: Tensor) -> KVCache:
    new = KVCache(static=cache.static)
    if cache.filled:
        assert cache.k is not None and cache.v is not None
        new.update(cache.k.index_select(0, indices), cache.v.index_select(0, indices))
    return new


class Transformer(nn.Module):
    """Encoder-decoder Transformer (see the module docstring).

    Args:
        cfg: the hyperparameters (see :class:`TransformerConfig`).
        src_vocab: source vocabulary size (id 0 is padding).
        tgt_vocab: target vocabulary size (id 0 is padding).

    Raises:
        ValueError: a vocabulary size below 1, or ``share_embeddings`` with two sizes.

    Implements the decoding step interface of :mod:`attnkit.decoding`
    (``encode`` / ``init_decoder_state`` / ``decode_step`` / ``reorder``), with the same
    ``forward(src, src_lengths, tgt_in)`` as :class:`~attnkit.models.seq2seq.Seq2Seq`.
    """

    def __init__(self, cfg: TransformerConfig, *, src_vocab: int, tgt_vocab: int) -> None:
        super().__init__()
        for name, size in (("src_vocab", src_vocab), ("tgt_vocab", tgt_vocab)):
            if size < 1:
                raise ValueError(f"{name} must be >= 1, got {size}")
        if cfg.share_embeddings and src_vocab != tgt_vocab:
            raise ValueError(
                f"share_embeddings needs one joint vocabulary, got src_vocab={src_vocab} and "
                f"tgt_vocab={tgt_vocab}: set share_embeddings to false"
            )
        self.cfg = cfg
        self.src_vocab, self.tgt_vocab = src_vocab, tgt_vocab
        D = cfg.dim
        self.tgt_embed = nn.Embedding(tgt_vocab, D, padding_idx=PAD_ID)
        self.src_embed = (
            self.tgt_embed
            if cfg.share_embeddings
            else nn.Embedding(src_vocab, D, padding_idx=PAD_ID)
        )
        self.drop = nn.Dropout(cfg.dropout)
        self.encoder = nn.ModuleList(
            EncoderBlock(
                D,
                num_heads=cfg.heads,
                ffn_dim=cfg.ff_dim,
                dropout=cfg.dropout,
                feed_forward_kind=cfg.feed_forward,
                residual=cfg.residual,
                kv_heads=cfg.kv_heads,
                attention_dropout=cfg.attention_dropout,
            )
            for _ in range(cfg.enc_layers)
        )
        self.enc_norm = nn.LayerNorm(D)
        self.decoder = nn.ModuleList(DecoderBlock(cfg) for _ in range(cfg.dec_layers))
        self.dec_norm = nn.LayerNorm(D)
        self.output = nn.Linear(D, tgt_vocab, bias=False)
        self._positions = sinusoidal_positions(256, D)  # (L, D), grown on demand; not saved
        self._init_weights()
        if cfg.tie_embeddings:
            self.output.weight = self.tgt_embed.weight

    def _init_weights(self) -> None:
        """Xavier projections (attention keeps its own), N(0, D^-1/2) embeddings, zero biases;
        gated residuals keep their negative gate bias."""
        for name, module in self.named_modules():
            if isinstance(module, nn.Linear) and "attn" not in name and "jump" not in name:
                nn.init.xavier_uniform_(module.weight)
                if module.bias is not None:
                    nn.init.zeros_(module.bias)
            elif isinstance(module, nn.Embedding):
                nn.init.normal_(module.weight, std=self.cfg.dim**-0.5)
                with torch.no_grad():
                    module.weight[PAD_ID].zero_()

    def _embed(self, table: nn.Embedding, ids: Tensor, start: int | Tensor = 0) -> Tensor:
        """(B, L) ids -> (B, L, D): scaled embeddings plus positions ``start..``; ids past the
        vocabulary embed as <unk>. A (1,) tensor ``start`` (one step of a traced decoder, see
        :meth:`reserve_positions`) reads its row of the table as it stands."""
        ids = ids.masked_fill(ids >= table.num_embeddings, UNK_ID)
        x = table(ids) * math.sqrt(self.cfg.dim)  # (B, L, D)
        if isinstance(start, Tensor):
            return self.drop(x + self._positions.index_select(0, start))  # (B, 1, D)
        end = start + ids.size(1)
        if self._positions.size(0) < end or self._positions.device != ids.device:
            self._positions = sinusoidal_positions(max(end, 2 * self._positions.size(0)),
                                                   self.cfg.dim, ids.device)  # fmt: skip
        return self.drop(x + self._positions[start:end])  # (B, L, D)

    def reserve_positions(self, length: int) -> None:
        """Make the position table hold at least ``length`` rows (a traced graph keeps the
        table it sees, so an exported decoder step reaches only that far)."""
        if self._positions.size(0) < length:
            self._positions = sinusoidal_positions(length, self.cfg.dim, self._positions.device)

    # ------------------------------------------------------------------ encoder
    def encode(self, src: Tensor, src_lengths: Tensor) -> TransformerEncoding:
        """Encode a padded source batch ``src`` (B, Ls) with lengths (B,)."""
        if src.dim() != 2 or src_lengths.shape != src.shape[:1]:
            raise ValueError(
                f"src must be (B, Ls) and src_lengths (B,), got {tuple(src.shape)} and "
                f"{tuple(src_lengths.shape)}"
            )
        Ls = src.size(1)
        mask = torch.arange(Ls, device=src.device)[None, :] < src_lengths.to(src.device)[:, None]
        x = self._embed(self.src_embed, src)  # (B, Ls, D)
        for block in self.encoder:
            x, _ = block(x, mask[:, None, None, :])
        return TransformerEncoding(self.enc_norm(x), mask, src_lengths)

    # ------------------------------------------------------------------ decoder
    def _decode(
        self,
        enc: TransformerEncoding,
        x: Tensor,
        state: TransformerState | None,
        weights_of: str,
    ) -> tuple[Tensor, list[Tensor]]:
        """Run the decoder stack on embedded targets x (B, Lt, D); the top states (B, Lt, D)
        and the cross-attention weights (B, H, Lt, Ls) of the last layer (``weights_of=
        "last"``), of every layer (``"all"``) or of none (``"none"``)."""
        memory_mask = enc.mask[:, None, None, :]  # (B, 1, 1, Ls)
        weights = []
        last = len(self.decoder) - 1
        for i, block in enumerate(self.decoder):
            want = weights_of == "all" or (weights_of == "last" and i == last)
            x, w = block(
                x,
                enc.states,
                memory_mask,
                self_cache=None if state is None else state.self_caches[i],
                cross_cache=None if state is None else state.cross_caches[i],
                return_weights=want,
            )
            if want:
                assert w is not None
                weights.append(w)
        return self.dec_norm(x), weights

    def forward(
        self,
        src: Tensor,
        src_lengths: Tensor,
        tgt_in: Tensor,
        *,
        return_attention: bool = False,
    ) -> tuple[Tensor, Tensor | None]:
        """Teacher forcing: logits (B, Lt, V) of ``tgt_in`` (B, Lt) (BOS y_1 ... y_{n-1}).

        With ``return_attention``, also the last layer's cross-attention averaged over heads
        (B, Lt, Ls) (else None: the fused attention path is kept).
        """
        return self.decode_full(
            self.encode(src, src_lengths), tgt_in, return_attention=return_attention
        )

    def decode_full(
        self, enc: TransformerEncoding, tgt_in: Tensor, *, return_attention: bool = False
    ) -> tuple[Tensor, Tensor | None]:
        """The decoder over a whole prefix ``tgt_in`` (B, Lt) at once, no cache: logits
        (B, Lt, V) and, if asked, the last layer's head-averaged cross-attention (B, Lt, Ls).

        What :meth:`forward` runs after encoding, and the "recompute the prefix" baseline that
        :meth:`decode_step`'s caches are measured against.
        """
        if tgt_in.dim() != 2 or tgt_in.size(0) != enc.states.size(0):
            raise ValueError(
                f"tgt_in must be (B, Lt) with B = {enc.states.size(0)}, got {tuple(tgt_in.shape)}"
            )
        h, weights = self._decode(
            enc, self._embed(self.tgt_embed, tgt_in), None, "last" if return_attention else "none"
        )
        return self.output(h), (weights[0].mean(1) if return_attention else None)

    @torch.no_grad()
    def cross_attention(self, src: Tensor, src_lengths: Tensor, tgt_in: Tensor) -> Tensor:
        """Every decoder layer's cross-attention for ``tgt_in``: (B, N, H, Lt, Ls)."""
        enc = self.encode(src, src_lengths)
        _, weights = self._decode(enc, self._embed(self.tgt_embed, tgt_in), None, "all")
        return torch.stack(weights, dim=1)

    def init_decoder_state(self, enc: TransformerEncoding) -> TransformerState:
        """Empty caches: one appending self-attention cache and one static cross-attention
        cache per decoder layer."""
        n = len(self.decoder)
        return TransformerState(
            [KVCache() for _ in range(n)], [KVCache(static=True) for _ in range(n)]
        )

    def decode_step(
        self, enc: TransformerEncoding, state: TransformerState, prev_tokens: Tensor
    ) -> tuple[Tensor, TransformerState, Tensor]:
        """One step with the caches: log-probs (B, V) in float32, the state one step on, and the
        last layer's cross-attention averaged over heads (B, Ls).

        The state's caches are extended in place; search never reuses an old state.
        """
        x = self._embed(self.tgt_embed, prev_tokens[:, None], start=state.step)  # (B, 1, D)
        h, weights = self._decode(enc, x, state, "last")
        log_probs = step_log_probs(self.output, h[:, 0])  # (B, V) float32
        state.step += 1
        return log_probs, state, weights[0][:, :, 0].mean(1)

    def reorder(
        self, enc: TransformerEncoding | None, state: TransformerState, indices: Tensor
    ) -> tuple[TransformerEncoding | None, TransformerState]:
        """Select batch rows (beam search). ``enc=None`` leaves the encoder untouched."""
        return (None if enc is None else enc.index_select(indices)), state.index_select(indices)

    def num_parameters(self) -> int:
        """Trainable parameters (tied weights counted once)."""
        return sum(p.numel() for p in self.parameters() if p.requires_grad)
