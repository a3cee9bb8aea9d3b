"""The corrector: an end-to-end memory network that reads a token's context and its candidates.

For each token under scrutiny the memory holds ``2W`` context slots (the words ``W`` to the
left and ``W`` to the right, one slot per relative position) and ``C`` candidate slots (the
token itself, "keep", first). Every slot is a bag of ids: the word's id (frequent words),
hashed character n-grams (so unseen words have a representation; a correction of an unknown
word only its ending), and for candidates flag ids (keep, confusion partner, edit distance, and
for a correction its rank, frequency decade and edit shapes). Temporal encoding gives each
slot a learned vector, so a slot knows its relative position or candidate rank. The query is
the token's id (``<unk>`` for an unknown word) and flags for its shape (lower, title, upper
case, sentence start) and role (unknown word or confusion-set word); its spelling reaches the
model through its candidates (see :mod:`~attnkit.tasks.correct.encode`).
:class:`~attnkit.attention.MemoryAttention` runs ``K`` hops (adjacent weight tying, Sukhbaatar
et al. 2015), and the final state scores each candidate:

    logit_c = u_{K+1} . sum_{x in bag(c)} C^K x  +  w . f_c

with the answer table ``C^K`` (as MemN2N's ``W^T``) and a linear term over the candidate's
numeric features ``f_c`` (frequency, distance, edit shapes, keep flags). Cross-entropy over
the candidates trains it; when correcting, ``unknown_keep_bias`` is added to the keep logit of
a word the lexicon lacks (:func:`~attnkit.tasks.correct.task.candidate_scores`).

Notation for tensor shapes: B tokens, M memory slots (``2W + C``), L ids per slot, Lq query
ids, C candidates, F candidate features, K hops, E embedding size.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from attnkit.attention import MemoryAttention
from attnkit.specials import PAD_ID

__all__ = ["CorrectorConfig", "MemoryCorrector"]


@dataclass
class CorrectorConfig:
    """Hyperparameters of :class:`MemoryCorrector` (vocabulary and feature sizes apart)."""

    embed_dim: int = 64  # E
    hops: int = 3  # K: rounds of attention over context and candidates
    window: int = 5  # W: context words on each side of the token
    candidates: int = 8  # C: candidates per token, keep included
    unknown_keep_bias: float = 0.0  # added to the keep logit of a word the lexicon lacks when
    # correcting (not in training): < 0 corrects more unknown words; chosen on dev

    def __post_init__(self) -> None:
        if self.embed_dim < 1 or self.hops < 1 or self.window < 0 or self.candidates < 2:
            raise ValueError(
                "model.embed_dim and model.hops must be >= 1, model.window >= 0 and "
                f"model.candidates >= 2; got {self.embed_dim}, {self.hops}, {self.window}, "
                f"{self.candidates}"
            )

    @property
    def memory_size(self) -> int:
        """``M = 2W + C`` slots: the context, then the candidates."""
        return 2 * self.window + self.candidates


class MemoryCorrector(nn.Module):
    """Scores the candidates of a token from its context with ``K`` memory hops.

    Args:
        config: the hyperparameters.
        vocab_size: ids of words, n-gram buckets and flags together.
        features: ``F``, numeric features per candidate.

    Example:
        >>> cfg = CorrectorConfig(embed_dim=8, window=2, candidates=3)
        >>> model = MemoryCorrector(cfg, vocab_size=50, features=4).eval()
        >>> memory = torch.randint(1, 50, (2, 7, 5))  # (B, M = 2W + C, L)
        >>> logits, w = model(memory, torch.randint(1, 50, (2, 6)), torch.rand(2, 3, 4),
        ...                   torch.tensor([[True, True, False]] * 2), return_weights=True)
        >>> logits.shape, w.shape, bool(logits[0, 2] == float("-inf"))  # (B, C), (B, K, M)
        (torch.Size([2, 3]), torch.Size([2, 3, 7]), True)
    """

    def __init__(self, config: CorrectorConfig, *, vocab_size: int, features: int) -> None:
        super().__init__()
        self.config = config
        self.memory = MemoryAttention(
            vocab_size,
            config.embed_dim,
            hops=config.hops,
            tying="adjacent",
            position_encoding=False,  # a slot is a bag of ids, not a sentence
            temporal_encoding=True,  # one vector per slot: relative position, candidate rank
            max_memories=config.memory_size,
            pad_id=PAD_ID,
        )
        self.feature_score = nn.Linear(features, 1)
        nn.init.zeros_(self.feature_score.weight)
        nn.init.zeros_(self.feature_score.bias)

    def forward(
        self,
        memory: Tensor,
        query: Tensor,
        features: Tensor,
        mask: Tensor,
        *,
        return_weights: bool = False,
    ) -> tuple[Tensor, Tensor | None]:
        """Candidate logits and, with ``return_weights``, each hop's attention.

        Args:
            memory: ``(B, M, L)`` ids: ``2W`` context slots then ``C`` candidate slots; an
                all-padding slot is empty (masked).
            query: ``(B, Lq)`` ids of the token under scrutiny.
            features: ``(B, C, F)`` numeric features of the candidates.
            mask: ``(B, C)`` bool, ``True`` for a real candidate.

        Returns:
            ``(logits, weights)``: ``(B, C)`` (``-inf`` where ``mask`` is false) and ``(B, K,
            M)`` hop attention (distributions over the non-empty slots) or ``None``.
        """
        C = self.config.candidates
        u, weights = self.memory(memory, query, return_weights=return_weights)  # (B, E)
        answer = self.memory.word_embeddings[-1]  # C^K, the answer table
        cands = answer(memory[:, -C:, :]).sum(dim=-2)  # (B, C, E)
        logits = torch.einsum("bce,be->bc", cands, u)  # (B, C)
        logits = logits + self.feature_score(features).squeeze(-1)  # (B, C)
        return logits.masked_fill(~mask, float("-inf")), weights
