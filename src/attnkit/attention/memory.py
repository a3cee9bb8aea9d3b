"""Multi-hop memory attention: end-to-end memory networks (Sukhbaatar et al. 2015, "End-To-End
Memory Networks", MemN2N).

A story of ``M`` sentences (bags of word ids) is embedded twice per hop: input memories
``m_i = sum_j l_j * A x_ij + T_A(i)`` and output memories ``c_i = sum_j l_j * C x_ij + T_C(i)``.
A query ``u`` (embedded with ``B``) attends over them and is updated hop after hop:

    p = softmax(u^T m)      o = sum_i p_i c_i      u <- H u + o   (H = I unless layer-wise)

Weight tying (section 2.2 of the paper):

* ``"adjacent"``: ``K + 1`` embedding matrices ``E_0..E_K``; hop ``k`` uses ``A = E_{k-1}``,
  ``C = E_k``; the query embedding is ``B = E_0`` and the answer layer may use ``W^T = E_K``
  (:attr:`MemoryAttention.answer_embedding`).
* ``"layerwise"``: one ``A`` and one ``C`` for every hop, a separate ``B``, and a learned
  linear map ``H`` in the query update.

Position encoding (PE) weights word ``j`` of a ``J``-word sentence, in dimension ``k`` of
``d``, by ``l_kj = (1 - j/J) - (k/d)(1 - 2j/J)`` (1-based ``j``, ``k``), so word order matters;
without it sentences are plain bags of words. Temporal encoding (TE) adds a learned vector per
memory slot ``i`` (``T_A``, ``T_C``); put the most recent sentence first if you want slot 0 to
mean "latest", as the paper does.

Notation for tensor shapes:
    B: batch, M: memories (sentences), Ls: words per sentence, Lq: query words,
    E: embedding size, K: hops, V: vocabulary.

Example:
    >>> import torch
    >>> mem = MemoryAttention(vocab_size=20, embed_dim=8, hops=3, max_memories=5)
    >>> story = torch.randint(1, 20, (2, 5, 4))  # (B, M, Ls) word ids, 0 = padding
    >>> query = torch.randint(1, 20, (2, 3))  # (B, Lq)
    >>> u, p = mem(story, query, return_weights=True)
    >>> u.shape, p.shape  # final query state, attention of every hop
    (torch.Size([2, 8]), torch.Size([2, 3, 5]))
"""

from __future__ import annotations

from typing import Literal

import torch
from torch import Tensor, nn

from attnkit.attention.masks import masked_softmax

__all__ = ["TYING_SCHEMES", "MemoryAttention", "position_encoding"]

TYING_SCHEMES = ("adjacent", "layerwise")


def position_encoding(lengths: Tensor, max_len: int, dim: int) -> Tensor:
    """MemN2N position-encoding weights for sentences of the given lengths.

    Args:
        lengths: ``(...)`` number of real words ``J`` of each sentence (0 for an empty slot).
        max_len: padded sentence length ``Ls``.
        dim: embedding size ``d``.

    Returns:
        ``(..., Ls, d)``: ``l_kj = (1 - j/J) - (k/d)(1 - 2j/J)`` for ``j <= J`` and 0 on padding.

    Example:
        >>> position_encoding(torch.tensor([1]), max_len=2, dim=2).tolist()  # J = 1: j/J = 1
        [[[0.5, 1.0], [0.0, 0.0]]]
    """
    J = lengths.clamp_min(1).to(torch.float32)[..., None, None]  # (..., 1, 1)
    j = torch.arange(1, max_len + 1, dtype=torch.float32, device=lengths.device)[:, None]  # (Ls,1)
    k = torch.arange(1, dim + 1, dtype=torch.float32, device=lengths.device)[None, :]  # (1, d)
    pe = (1 - j / J) - (k / dim) * (1 - 2 * j / J)  # (..., Ls, d)
    real = j <= lengths.to(torch.float32)[..., None, None]  # (..., Ls, 1)
    return pe * real


class MemoryAttention(nn.Module):
    """End-to-end memory network: ``hops`` rounds of attention over embedded sentences.

    Args:
        vocab_size: ``V`` (id ``pad_id`` is padding and embeds to zero).
        embed_dim: ``E``.
        hops: number of hops ``K``.
        tying: ``"adjacent"`` or ``"layerwise"`` weight tying.
        position_encoding: weight words by position (PE) instead of a plain bag of words.
        temporal_encoding: add a learned vector per memory slot (TE).
        max_memories: memory slots available to temporal encoding.
        pad_id: the padding word id.

    Example:
        >>> mem = MemoryAttention(vocab_size=10, embed_dim=4, hops=2, tying="layerwise")
        >>> mem(torch.randint(1, 10, (1, 3, 5)), torch.randint(1, 10, (1, 2)))[0].shape
        torch.Size([1, 4])
    """

    def __init__(
        self,
        vocab_size: int,
        embed_dim: int,
        *,
        hops: int = 3,
        tying: Literal["adjacent", "layerwise"] = "adjacent",
        position_encoding: bool = True,
        temporal_encoding: bool = True,
        max_memories: int = 50,
        pad_id: int = 0,
    ) -> None:
        super().__init__()
        if tying not in TYING_SCHEMES:
            raise ValueError(f"unknown tying {tying!r}; valid: {', '.join(TYING_SCHEMES)}")
        if hops < 1:
            raise ValueError(f"hops must be >= 1, got {hops}")
        self.hops, self.tying, self.embed_dim = hops, tying, embed_dim
        self.use_pe, self.use_te = position_encoding, temporal_encoding
        self.max_memories, self.pad_id = max_memories, pad_id
        n = hops + 1 if tying == "adjacent" else 3  # adjacent: E_0..E_K; layerwise: B, A, C
        self.word_embeddings = nn.ModuleList(
            [nn.Embedding(vocab_size, embed_dim, padding_idx=pad_id) for _ in range(n)]
        )
        # Memory tables (those used as A or C): every E_k when adjacent, A and C when layer-wise.
        memory_tables = range(n) if tying == "adjacent" else (1, 2)
        self._te_index = {table: i for i, table in enumerate(memory_tables)}
        self.temporal = nn.ParameterList(
            [nn.Parameter(torch.empty(max_memories, embed_dim)) for _ in memory_tables]
            if temporal_encoding
            else []
        )
        self.H = nn.Linear(embed_dim, embed_dim, bias=False) if tying == "layerwise" else None
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Gaussian init with std 0.1, as in the paper; padding rows zero."""
        for emb in self.word_embeddings:
            nn.init.normal_(emb.weight, std=0.1)
            with torch.no_grad():
                emb.weight[self.pad_id].zero_()
        for t in self.temporal:
            nn.init.normal_(t, std=0.1)
        if self.H is not None:
            nn.init.normal_(self.H.weight, std=0.1)

    @property
    def answer_embedding(self) -> Tensor:
        """``(V, E)``: the last output embedding, the answer layer's ``W^T`` (adjacent tying)."""
        return self.word_embeddings[-1].weight

    def _hop_matrices(self, hop: int) -> tuple[int, int]:
        """Indices of ``A`` and ``C`` (in ``word_embeddings``) for hop ``hop`` (0-based)."""
        return (hop, hop + 1) if self.tying == "adjacent" else (1, 2)

    def _temporal(self, table: int) -> Tensor | None:
        """The temporal-encoding rows ``(max_memories, E)`` that go with a memory table."""
        return self.temporal[self._te_index[table]] if self.use_te else None

    def _embed_bag(self, ids: Tensor, table: int, pe: Tensor | None) -> Tensor:
        """Sum the word vectors of each sentence: ``(..., L) -> (..., E)``."""
        vectors = self.word_embeddings[table](ids)  # (..., L, E)
        if pe is not None:
            vectors = vectors * pe
        return vectors.sum(dim=-2)

    def forward(
        self,
        story: Tensor,
        query: Tensor,
        *,
        memory_mask: Tensor | None = None,
        softmax: bool = True,
        return_weights: bool = False,
    ) -> tuple[Tensor, Tensor | None]:
        """Run the hops.

        Args:
            story: ``(B, M, Ls)`` word ids, ``pad_id`` for padding words and empty sentences.
            query: ``(B, Lq)`` word ids.
            memory_mask: ``(B, M)`` bool, ``True`` = a real memory; defaults to the slots
                holding at least one word.
            softmax: ``False`` uses the raw scores ``u^T m_i`` (0 on masked slots) as the
                weights: the paper's linear start (LS).
            return_weights: also return every hop's attention ``(B, K, M)``.

        Returns:
            ``(u, weights)``: the final query state ``u_{K+1}`` ``(B, E)`` (feed it to the
            answer layer) and ``(B, K, M)`` weights or ``None``.

        Raises:
            ValueError: on bad shapes, or more memories than ``max_memories`` with temporal
                encoding.
        """
        if story.dim() != 3 or query.dim() != 2 or story.shape[0] != query.shape[0]:
            raise ValueError(
                f"story must be (B, M, Ls) and query (B, Lq), got {tuple(story.shape)} and "
                f"{tuple(query.shape)}"
            )
        B, M, Ls = story.shape
        if self.use_te and self.max_memories < M:
            raise ValueError(f"{M} memories exceed max_memories={self.max_memories}")
        real_words = story != self.pad_id  # (B, M, Ls)
        if memory_mask is None:
            memory_mask = real_words.any(dim=-1)  # (B, M)
        elif memory_mask.shape != (B, M) or memory_mask.dtype != torch.bool:
            raise ValueError(f"memory_mask must be bool (B, M) = {(B, M)}, got "
                             f"{tuple(memory_mask.shape)} {memory_mask.dtype}")  # fmt: skip
        story_pe = query_pe = None
        if self.use_pe:
            story_pe = position_encoding(real_words.sum(-1), Ls, self.embed_dim)  # (B, M, Ls, E)
            q_len = (query != self.pad_id).sum(-1)  # (B,)
            query_pe = position_encoding(q_len, query.shape[1], self.embed_dim)  # (B, Lq, E)

        u = self._embed_bag(query, 0, query_pe)  # (B, E), query embedding B (= E_0 if adjacent)
        cache: dict[int, Tensor] = {}  # adjacent tying reuses C of hop k as A of hop k+1

        def memories(table: int) -> Tensor:
            if table not in cache:
                m = self._embed_bag(story, table, story_pe)  # (B, M, E)
                t = self._temporal(table)
                cache[table] = m if t is None else m + t[:M]
            return cache[table]

        weights = []
        for hop in range(self.hops):
            a, c = self._hop_matrices(hop)
            m_in, m_out = memories(a), memories(c)  # (B, M, E) each
            scores = torch.einsum("bme,be->bm", m_in, u)  # (B, M)
            p = masked_softmax(scores, memory_mask) if softmax else scores * memory_mask
            o = torch.einsum("bm,bme->be", p, m_out)  # (B, E)
            u = (self.H(u) if self.H is not None else u) + o  # (B, E)
            weights.append(p)
        return u, (torch.stack(weights, dim=1) if return_weights else None)  # (B, K, M)
