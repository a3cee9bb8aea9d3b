"""End-to-end memory network for question answering (MemN2N).

Sukhbaatar, Szlam, Weston and Fergus, "End-To-End Memory Networks", NIPS 2015. The hops are
:class:`attnkit.attention.MemoryAttention` with adjacent weight tying; this module adds the
answer layer and the paper's training tricks:

* adjacent tying (section 2.2): ``A^{k+1} = C^k``, the query embedding ``B = A^1`` and the
  answer layer ``W^T = C^K``: ``K + 1`` embedding tables in all (:meth:`MemN2N.embeddings`);
* position encoding (PE) and temporal encoding (TE, section 4.1), both on by default;
* linear start (LS, section 4.2): :attr:`MemN2N.linear_start` removes the softmax from the
  hops (the answer softmax stays); the trainer turns it off once the validation loss stops
  falling;
* random noise (RN, section 4.1): at training time the memories are spread over ``~10%``
  more slots, as if empty memories were interleaved, so temporal encoding does not overfit
  exact slot numbers (:func:`add_empty_memories`).

Notation for tensor shapes: B batch, M memories (slot 0 = the latest sentence), J words per
sentence, Lq query words, E embedding size ``d``, K hops, V vocabulary.

Example:
    >>> import torch
    >>> model = MemN2N(MemN2NConfig(embed_dim=8), vocab_size=30).eval()
    >>> story = torch.randint(1, 30, (2, 5, 4))  # (B, M, J) word ids, 0 = padding
    >>> logits, weights = model(story, torch.randint(1, 30, (2, 3)), return_weights=True)
    >>> logits.shape, weights.shape  # (B, V) answer scores, (B, K, M) attention of each hop
    (torch.Size([2, 30]), torch.Size([2, 3, 5]))
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from attnkit.attention import MemoryAttention
from attnkit.specials import PAD_ID

__all__ = ["MemN2N", "MemN2NConfig", "add_empty_memories", "memn2n_babi"]


@dataclass
class MemN2NConfig:
    """Hyperparameters of :class:`MemN2N` (the vocabulary size is given to the model apart)."""

    embed_dim: int = 20  # d: 20 for one bAbI task, 50 for all tasks jointly (the paper)
    hops: int = 3  # K: rounds of attention over the memory
    memory_size: int = 50  # memory slots, each with its temporal-encoding rows
    position_encoding: bool = True  # PE: word order within a sentence matters
    temporal_encoding: bool = True  # TE: a learned vector per memory slot
    linear_start: bool = False  # LS: hops without softmax at first; the trainer ends it
    random_noise: float = 0.1  # RN: share of empty memories interleaved when training (0 = off)


def add_empty_memories(
    story: Tensor, rate: float, *, max_memories: int, pad_id: int = PAD_ID
) -> Tensor:
    """Spread each story's memories over more slots, with empty ones between (RN).

    A story with ``n`` real memories gets ``b ~ U{0..ceil(rate * n)}`` blanks; its memories
    keep their order in ``n`` random slots among the first ``n + b`` (at most
    ``max_memories``), the way the paper's code draws the time index of each memory.

    Args:
        story: ``(B, M, J)`` word ids; a slot of ``pad_id`` only is empty.
        rate: the share of empty memories, e.g. 0.1.
        max_memories: slots available (temporal-encoding rows); at least ``M``.
        pad_id: the padding word id.

    Returns:
        ``(B, M', J)`` with ``M <= M' = min(max_memories, M + ceil(rate * M))``.

    Example:
        >>> story = torch.tensor([[[5], [6], [0]]])  # 2 memories and an empty slot
        >>> out = add_empty_memories(story, 1.0, max_memories=6)
        >>> out.shape, out[out != 0].tolist()  # the memories, in order, some slots apart
        (torch.Size([1, 6, 1]), [5, 6])
    """
    B, M, J = story.shape
    width = min(max_memories, M + math.ceil(rate * M))
    real = (story != pad_id).any(dim=-1)  # (B, M)
    n = real.sum(dim=-1)  # (B,)
    blanks = (torch.rand(B, device=story.device) * (torch.ceil(rate * n) + 1)).long()  # (B,)
    used = (n + blanks).clamp(max=width)  # (B,) slots the memories are spread over
    slots = torch.arange(width, device=story.device)  # (M',)
    keys = torch.rand(B, width, device=story.device).masked_fill(slots >= used[:, None], 2.0)
    chosen = keys.argsort(dim=1).argsort(dim=1) < n[:, None]  # (B, M') the n lowest keys
    order = torch.argsort((~real).long(), dim=1, stable=True)  # (B, M) real slots first
    k = (chosen.cumsum(dim=1) - 1).clamp(min=0, max=M - 1)  # (B, M') which memory goes there
    src = order.gather(1, k)  # (B, M') its slot in ``story``
    out = story.gather(1, src[..., None].expand(B, width, J))  # (B, M', J)
    return out.masked_fill(~chosen[..., None], pad_id)


class MemN2N(nn.Module):
    """Question answering over a memory of sentences: ``K`` hops, then ``W(o^K + u^K)``.

    Args:
        config: hyperparameters (:class:`MemN2NConfig`).
        vocab_size: ``V``; answers are words of the same vocabulary.
        pad_id: the padding word id (never predicted).

    Example:
        >>> model = MemN2N(MemN2NConfig(hops=2), vocab_size=10)
        >>> A1, C1 = model.embeddings(0)
        >>> model.embeddings(1)[0] is C1 and model.query_embedding is A1  # adjacent tying
        True
    """

    def __init__(self, config: MemN2NConfig, *, vocab_size: int, pad_id: int = PAD_ID) -> None:
        super().__init__()
        if not 0.0 <= config.random_noise < 1.0:
            raise ValueError(f"random_noise must be in [0, 1), got {config.random_noise}")
        self.config, self.pad_id = config, pad_id
        self.linear_start = config.linear_start
        self.memory = MemoryAttention(
            vocab_size,
            config.embed_dim,
            hops=config.hops,
            tying="adjacent",
            position_encoding=config.position_encoding,
            temporal_encoding=config.temporal_encoding,
            max_memories=config.memory_size,
            pad_id=pad_id,
        )

    def embeddings(self, hop: int) -> tuple[nn.Embedding, nn.Embedding]:
        """``(A^{hop+1}, C^{hop+1})`` of hop ``hop`` (0-based): adjacent tables of one list."""
        return self.memory.word_embeddings[hop], self.memory.word_embeddings[hop + 1]

    @property
    def query_embedding(self) -> nn.Embedding:
        """``B``, the same table as ``A^1``."""
        return self.memory.word_embeddings[0]

    @property
    def answer_weight(self) -> Tensor:
        """``W^T = C^K`` as a ``(V, E)`` tensor: the logits are ``u_{K+1} @ answer_weight.T``."""
        return self.memory.answer_embedding

    def forward(
        self, story: Tensor, query: Tensor, *, return_weights: bool = False
    ) -> tuple[Tensor, Tensor | None]:
        """Answer scores for each question.

        Args:
            story: ``(B, M, J)`` word ids, slot 0 the latest sentence; all-padding slots are
                empty memories (masked).
            query: ``(B, Lq)`` word ids.
            return_weights: also return each hop's attention.

        Returns:
            ``(logits, weights)``: ``(B, V)`` answer logits (``pad_id`` at the dtype's
            minimum) and ``(B, K, M)`` weights or ``None``. In training mode with RN the
            weights cover the spread slots (``M' >= M``); in eval mode slot ``m`` is the
            input's slot ``m``. Under linear start they are raw scores, not distributions.

        Raises:
            ValueError: bad shapes or more memories than ``memory_size``.
        """
        cfg = self.config
        if self.training and cfg.random_noise > 0 and cfg.temporal_encoding:
            story = add_empty_memories(
                story, cfg.random_noise, max_memories=cfg.memory_size, pad_id=self.pad_id
            )  # (B, M', J)
        u, weights = self.memory(
            story, query, softmax=not self.linear_start, return_weights=return_weights
        )  # (B, E), (B, K, M)
        logits = u @ self.answer_weight.T  # (B, V)
        pad = torch.tensor([self.pad_id], device=logits.device)
        return logits.index_fill(1, pad, torch.finfo(logits.dtype).min), weights


def memn2n_babi(vocab_size: int, *, joint: bool = False) -> MemN2N:
    """The paper's bAbI model: 3 hops, adjacent tying, PE, TE, LS and RN; ``d = 20`` for one
    task, ``d = 50`` when trained on all tasks jointly.

    Example:
        >>> memn2n_babi(40).linear_start, memn2n_babi(40, joint=True).config.embed_dim
        (True, 50)
    """
    return MemN2N(MemN2NConfig(embed_dim=50 if joint else 20, linear_start=True),
                  vocab_size=vocab_size)  # fmt: skip
