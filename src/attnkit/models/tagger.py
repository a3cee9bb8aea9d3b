"""Sequence tagger: character-aware words -> BiLSTM -> self-attention blocks -> CRF.

Huang, Xu and Yu, "Bidirectional LSTM-CRF Models for Sequence Tagging" (2015); Ma and Hovy,
"End-to-end Sequence Labeling via Bi-directional LSTM-CNNs-CRF" (ACL 2016) for the character
CNN; Vaswani et al., "Attention Is All You Need" (2017) for the (pre-LN) self-attention blocks
stacked on the BiLSTM, as in Tan et al., "Deep Semantic Role Labeling with Self-Attention"
(AAAI 2018).

Notation for tensor shapes: B batch, L words per sentence, C characters per word, D model
width (``2 * lstm_hidden``), H heads, T tags.

Setting ``attention_layers=0`` removes the self-attention blocks and ``crf=False`` replaces the
CRF by a per-token softmax: together they are the ablation baseline (BiLSTM + softmax).
``lstm_layers=0`` removes the BiLSTM: the word features are projected to ``D`` and given
sinusoidal positions, so self-attention is the only way a word sees its neighbours (with
``attention_layers=0`` too, the tagger sees each word alone, up to the CRF's transitions).

Example:
    >>> import torch
    >>> model = Tagger(TaggerConfig(lstm_hidden=16, num_heads=2, ffn_dim=32, char_channels=8,
    ...                             word_dim=8, char_dim=4), num_words=10, num_chars=10, num_tags=5)
    >>> words = torch.tensor([[2, 3, 4], [5, 6, 0]])
    >>> chars = torch.randint(1, 10, (2, 3, 2))
    >>> model(words, chars).shape
    torch.Size([2, 3, 5])
    >>> [len(p) for p in model.decode(words, chars)]
    [3, 2]
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from attnkit.models.crf import CRF
from attnkit.models.transformer import EncoderBlock, sinusoidal_positions
from attnkit.specials import PAD_ID


@dataclass
class TaggerConfig:
    """Hyperparameters of :class:`Tagger` (vocabulary sizes are given to the model apart)."""

    word_dim: int = 100  # unit embedding size (a word, or a character for joint segmentation)
    char_dim: int = 32  # sub-unit embedding size (a word's characters, a character's bigrams)
    char_channels: int = 64  # character CNN filters (0 = no sub-unit features)
    char_kernel: int = 3  # character CNN window (odd)
    subunits: Literal["cnn", "concat"] = "cnn"  # cnn: a CNN over a word's characters;
    # concat: each of subunit_slots sub-units embedded and concatenated (a character's bigrams)
    subunit_slots: int = 2  # with concat: sub-units per unit (left and right bigram)
    lstm_hidden: int = 128  # BiLSTM hidden size per direction; model width D = 2 * lstm_hidden
    lstm_layers: int = 1  # stacked BiLSTM layers (0 = none: attention alone gives context)
    attention_layers: int = 1  # self-attention blocks after the BiLSTM (0 = none)
    num_heads: int = 4  # heads per attention block (must divide D)
    ffn_dim: int = 512  # hidden size of each block's feed-forward layer
    dropout: float = 0.15  # dropout on embeddings, BiLSTM output, attention and FFN
    crf: bool = True  # CRF output layer; False = independent softmax per token


class CharCNN(nn.Module):
    """Character embeddings -> 1-D convolution -> ReLU -> max over the word's characters.

    Unseen words still get a representation from their characters.
    """

    def __init__(self, num_chars: int, *, char_dim: int, channels: int, kernel: int) -> None:
        super().__init__()
        if kernel % 2 != 1:
            raise ValueError(f"char_kernel must be odd, got {kernel}")
        self.embed = nn.Embedding(num_chars, char_dim, padding_idx=PAD_ID)
        self.conv = nn.Conv1d(char_dim, channels, kernel, padding=kernel // 2)

    def forward(self, chars: Tensor) -> Tensor:
        """``chars (B, L, C)`` long (PAD = 0) -> ``(B, L, channels)``; all-PAD words give 0."""
        B, L, C = chars.shape
        x = self.embed(chars.reshape(B * L, C)).transpose(1, 2)  # (B*L, char_dim, C)
        h = F.relu(self.conv(x))  # (B*L, channels, C)
        h = h * (chars.reshape(B * L, 1, C) != PAD_ID)  # padded characters never win the max
        return h.amax(dim=2).reshape(B, L, -1)  # (B, L, channels)


class SubunitConcat(nn.Module):
    """A fixed number of sub-unit ids per unit, each embedded, concatenated.

    For a character-level tagger: the bigrams a character forms with its left and right
    neighbours (Chinese word boundaries are mostly decided by bigram statistics).
    """

    def __init__(self, num_subunits: int, *, dim: int, slots: int) -> None:
        super().__init__()
        self.embed = nn.Embedding(num_subunits, dim, padding_idx=PAD_ID)
        self.slots = slots

    def forward(self, subunits: Tensor) -> Tensor:
        """``subunits (B, L, S)`` long -> ``(B, L, S * dim)``."""
        if subunits.size(-1) != self.slots:
            raise ValueError(f"expected {self.slots} sub-units per unit, got {subunits.size(-1)}")
        return self.embed(subunits).flatten(2)  # (B, L, S * dim)


def best_tag_paths(
    emissions: Tensor, mask: Tensor, crf: CRF | None, *, allowed: Tensor | None = None
) -> list[list[int]]:
    """Best tag ids per sentence from emission scores ``(B, L, T)``: Viterbi with ``crf``,
    per-token argmax without; ``allowed`` ``(B, L, T)`` bool restricts each position.

    Example:
        >>> emissions = torch.tensor([[[0.0, 2.0], [3.0, 1.0], [9.0, 9.5]]])  # (1, 3, 2)
        >>> best_tag_paths(emissions, torch.tensor([[True, True, False]]), None)
        [[1, 0]]
    """
    if allowed is not None:
        emissions = emissions.masked_fill(~allowed, -1e4)  # (B, L, T)
    if crf is not None:
        return crf.decode(emissions, mask)
    best = emissions.argmax(-1)  # (B, L)
    return [best[b, :n].tolist() for b, n in enumerate(mask.sum(1).tolist())]


class Tagger(nn.Module):
    """Character-aware BiLSTM(-self-attention)(-CRF) tagger.

    Args:
        cfg: hyperparameters.
        num_words: word vocabulary size (PAD = 0, UNK = 1 included).
        num_chars: character vocabulary size (PAD = 0, UNK = 1 included).
        num_tags: number of tags T.

    Inputs of :meth:`forward`, :meth:`loss` and :meth:`decode`:
        words: ``(B, L)`` long word ids, PAD = 0 after each sentence's end.
        chars: ``(B, L, C)`` long character ids of each word, PAD = 0.
        mask: ``(B, L)`` bool, True on real words; by default ``words != PAD``.
        tags: ``(B, L)`` gold tag ids (training); :meth:`forward` then returns the loss, so
            that a ``DistributedDataParallel`` wrapper sees the whole computation.
    """

    def __init__(self, cfg: TaggerConfig, *, num_words: int, num_chars: int, num_tags: int) -> None:
        super().__init__()
        dim = 2 * cfg.lstm_hidden
        if cfg.attention_layers and dim % cfg.num_heads:
            raise ValueError(f"num_heads={cfg.num_heads} must divide 2*lstm_hidden={dim}")
        if cfg.lstm_layers < 0 or cfg.attention_layers < 0:
            raise ValueError("lstm_layers and attention_layers must be >= 0")
        for name, n in (("num_words", num_words), ("num_chars", num_chars), ("num_tags", num_tags)):
            if n < 1:
                raise ValueError(f"{name} must be >= 1, got {n}")
        self.cfg = cfg
        self.num_tags = num_tags
        self.word_embed = nn.Embedding(num_words, cfg.word_dim, padding_idx=PAD_ID)
        if cfg.subunits == "concat":
            self.char_cnn: nn.Module | None = SubunitConcat(
                num_chars, dim=cfg.char_dim, slots=cfg.subunit_slots
            )
            sub_features = cfg.char_dim * cfg.subunit_slots
        elif cfg.char_channels > 0:
            self.char_cnn = CharCNN(
                num_chars, char_dim=cfg.char_dim, channels=cfg.char_channels, kernel=cfg.char_kernel
            )
            sub_features = cfg.char_channels
        else:
            self.char_cnn, sub_features = None, 0
        self.drop = nn.Dropout(cfg.dropout)
        features = cfg.word_dim + sub_features
        self.lstm = (
            nn.LSTM(
                features,
                cfg.lstm_hidden,
                num_layers=cfg.lstm_layers,
                batch_first=True,
                bidirectional=True,
                dropout=cfg.dropout if cfg.lstm_layers > 1 else 0.0,
            )
            if cfg.lstm_layers
            else None
        )
        self.input_proj = None if cfg.lstm_layers else nn.Linear(features, dim)
        self.blocks = nn.ModuleList(
            EncoderBlock(dim, num_heads=cfg.num_heads, ffn_dim=cfg.ffn_dim, dropout=cfg.dropout)
            for _ in range(cfg.attention_layers)
        )
        self.norm = nn.LayerNorm(dim) if cfg.attention_layers else nn.Identity()
        self.emit = nn.Linear(dim, num_tags)
        self.crf = CRF(num_tags) if cfg.crf else None

    def forward(
        self,
        words: Tensor,
        chars: Tensor,
        mask: Tensor | None = None,
        *,
        tags: Tensor | None = None,
        return_weights: bool = False,
    ) -> Tensor | tuple[Tensor, list[Tensor]]:
        """Emission scores ``(B, L, T)``; with ``return_weights`` also each block's attention
        weights, a list of ``(B, H, L, L)``; with ``tags``, the scalar training loss instead
        (see :meth:`loss`)."""
        if mask is None:
            mask = words != PAD_ID
        if words.dim() != 2 or chars.dim() != 3 or chars.shape[:2] != words.shape:
            raise ValueError(
                f"words must be (B, L) and chars (B, L, C); got {tuple(words.shape)} and "
                f"{tuple(chars.shape)}"
            )
        x = self.token_features(words, chars)  # (B, L, F)
        if self.lstm is not None:
            lengths = mask.sum(1).clamp(min=1).cpu()
            packed = pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)
            out, _ = self.lstm(packed)
            x, _ = pad_packed_sequence(out, batch_first=True, total_length=words.size(1))
        emissions, weights = self.emissions_from(x, mask, return_weights=return_weights)
        if tags is not None:
            return self._loss(emissions, tags, mask)
        return (emissions, weights) if return_weights else emissions

    def token_features(self, words: Tensor, chars: Tensor) -> Tensor:
        """Each word's embedding and character features, after dropout: (B, L, F)."""
        x = self.word_embed(words)  # (B, L, word_dim)
        if self.char_cnn is not None:
            x = torch.cat([x, self.char_cnn(chars)], dim=-1)  # (B, L, word_dim + channels)
        return self.drop(x)

    def emissions_from(
        self, x: Tensor, mask: Tensor, *, return_weights: bool = False
    ) -> tuple[Tensor, list[Tensor]]:
        """Emission scores (B, L, T) and each block's attention weights (when asked) from the
        BiLSTM's outputs ``x`` (B, L, D), or from the token features (B, L, F) of a tagger
        without LSTM (projected, plus positions). What :meth:`forward` runs after the LSTM
        (an exported graph runs the LSTM its own way, then this)."""
        if self.lstm is None:
            assert self.input_proj is not None
            x = self.input_proj(x)  # (B, L, D)
            x = x + sinusoidal_positions(x.size(1), x.size(2), x.device)
        x = self.drop(x)  # (B, L, D)
        key_mask = mask[:, None, None, :]  # (B, 1, 1, L): True = real key
        weights: list[Tensor] = []
        for block in self.blocks:
            x, w = block(x, key_mask, return_weights=return_weights)
            if return_weights:
                weights.append(w)
        return self.emit(self.norm(x)), weights  # (B, L, T)

    def loss(
        self, words: Tensor, chars: Tensor, tags: Tensor, mask: Tensor | None = None
    ) -> Tensor:
        """Mean negative log-likelihood per real token (CRF) or mean cross-entropy (softmax)."""
        return self(words, chars, mask, tags=tags)

    def _loss(self, emissions: Tensor, tags: Tensor, mask: Tensor) -> Tensor:
        if self.crf is not None:
            return self.crf(emissions, tags, mask, reduction="token_mean")
        return F.cross_entropy(emissions[mask], tags[mask])

    @torch.no_grad()
    def decode(
        self,
        words: Tensor,
        chars: Tensor,
        mask: Tensor | None = None,
        *,
        allowed: Tensor | None = None,
    ) -> list[list[int]]:
        """Best tag ids per sentence (Viterbi with the CRF, per-token argmax without).

        ``allowed`` ``(B, L, T)`` bool restricts each position to some tags (for instance
        those of a known word boundary); every position must allow at least one.
        """
        if mask is None:
            mask = words != PAD_ID
        return best_tag_paths(self(words, chars, mask), mask, self.crf, allowed=allowed)

    @torch.no_grad()
    def attention_weights(self, words: Tensor, chars: Tensor, *, layer: int = -1) -> Tensor:
        """Self-attention weights of one block for ONE sentence.

        Args:
            words: ``(L,)`` word ids of the sentence (no padding).
            chars: ``(L, C)`` character ids.
            layer: which block (negative counts from the last).

        Returns:
            ``(H, L, L)``: row i = how much word i attends to each word.

        Raises:
            ValueError: the model has no attention layers.
        """
        if not self.blocks:
            raise ValueError("this tagger has no self-attention layers (attention_layers=0)")
        _, weights = self(words.unsqueeze(0), chars.unsqueeze(0), return_weights=True)
        return weights[layer][0]
