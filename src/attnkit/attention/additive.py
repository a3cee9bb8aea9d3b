"""Additive (Bahdanau) and multiplicative (Luong) attention, with an optional coverage term.

* Bahdanau, Cho, Bengio 2015, "Neural Machine Translation by Jointly Learning to Align and
  Translate": ``score(q, k) = v^T tanh(W_q q + W_k k)``.
* Luong, Pham, Manning 2015, "Effective Approaches to Attention-based Neural Machine
  Translation": ``dot`` ``q^T k``, ``general`` ``q^T W_a k``, ``concat``
  ``v^T tanh(W_a [q; k])``.
* See, Liu, Manning 2017, "Get To The Point": coverage ``c = sum of past weights`` enters the
  score (``+ w_c c`` inside the tanh for the additive forms, ``+ w_c c`` on the score for the
  multiplicative ones), and :func:`coverage_loss` ``sum_i min(a_i, c_i)`` penalises attending
  twice.

Both layers are built for step-by-step decoders: the keys are projected once per source with
``precompute_keys`` (as JoeyNMT's ``compute_proj_keys``) and every decoder step passes the
result as ``proj_keys``. A query may also be a whole sequence ``(B, Lq, Dq)`` (teacher forcing
without input feeding). Weights are a masked softmax: masked keys get exactly 0, and a query
with no visible key gets a zero context and zero weights.

Notation for tensor shapes:
    B: batch, Lq: query steps (optional), Lk: keys (source length), Dq: query size,
    Dk: key size, Dv: value size, A: attention hidden size.

Example:
    >>> import torch
    >>> att = AdditiveAttention(query_dim=6, key_dim=4, hidden_dim=5)
    >>> keys = torch.randn(2, 7, 4)  # (B, Lk, Dk)
    >>> proj = att.precompute_keys(keys)  # (B, Lk, A), once per source
    >>> ctx, w = att(torch.randn(2, 6), keys, proj_keys=proj)  # one decoder step
    >>> ctx.shape, w.shape
    (torch.Size([2, 4]), torch.Size([2, 7]))
"""

from __future__ import annotations

from typing import Literal

import torch
from torch import Tensor, nn

from attnkit.attention.masks import masked_softmax

__all__ = ["LUONG_MODES", "AdditiveAttention", "LuongAttention", "coverage_loss"]

LUONG_MODES = ("dot", "general", "concat")


def _check_inputs(
    query: Tensor,
    keys: Tensor,
    values: Tensor | None,
    mask: Tensor | None,
    coverage: Tensor | None,
    query_dim: int,
    key_dim: int,
) -> tuple[Tensor, Tensor | None, Tensor | None]:
    """Validate shapes; return values and mask / coverage shaped ``(B, 1|Lq, Lk)``."""
    if query.dim() not in (2, 3) or query.shape[-1] != query_dim:
        raise ValueError(f"query must be (B, {query_dim}) or (B, Lq, {query_dim}), got "
                         f"{tuple(query.shape)}")  # fmt: skip
    B = query.shape[0]
    if keys.dim() != 3 or keys.shape[0] != B or keys.shape[-1] != key_dim:
        raise ValueError(f"keys must be (B={B}, Lk, {key_dim}), got {tuple(keys.shape)}")
    Lk = keys.shape[1]
    if values is None:
        values = keys
    elif values.dim() != 3 or values.shape[:2] != keys.shape[:2]:
        raise ValueError(f"values must be (B={B}, Lk={Lk}, Dv), got {tuple(values.shape)}")
    if mask is not None:
        if mask.dtype != torch.bool:
            raise ValueError(f"mask must be bool (True = may attend), got {mask.dtype}")
        if mask.shape[0] != B or mask.shape[-1] != Lk or mask.dim() not in (2, 3):
            raise ValueError(f"mask must be (B={B}, Lk={Lk}) or (B, Lq, Lk), got "
                             f"{tuple(mask.shape)}")  # fmt: skip
        if mask.dim() == 2:
            mask = mask[:, None, :]  # (B, 1, Lk)
    if coverage is not None:
        if coverage.shape[0] != B or coverage.shape[-1] != Lk or coverage.dim() not in (2, 3):
            raise ValueError(f"coverage must be (B={B}, Lk={Lk}) or (B, Lq, Lk), got "
                             f"{tuple(coverage.shape)}")  # fmt: skip
        if coverage.dim() == 2:
            coverage = coverage[:, None, :]  # (B, 1, Lk)
    return values, mask, coverage


TANH_ROWS = 8
"""Leading-axis rows :func:`tanh` converts to float32 at a time (a few hundred KB: in cache)."""


class _ChunkedFloat32Tanh(torch.autograd.Function):
    """tanh evaluated in float32 a few rows at a time, returned and kept in the input's dtype."""

    @staticmethod
    def forward(ctx, x: Tensor) -> Tensor:
        y = torch.empty_like(x)
        for s in range(0, x.size(0), TANH_ROWS):
            y[s : s + TANH_ROWS] = torch.tanh(x[s : s + TANH_ROWS].float())
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, grad: Tensor) -> Tensor:
        (y,) = ctx.saved_tensors
        return torch.ops.aten.tanh_backward(grad, y)  # grad * (1 - y^2), in y's dtype


def tanh(x: Tensor) -> Tensor:
    """``torch.tanh`` with the same values and gradient, faster for bf16 / fp16 on the CPU.

    torch's CPU kernel for bfloat16 is about twice as slow as converting to float32,
    evaluating there and converting back; done a few rows at a time (so that no large float32
    buffer is allocated), the additive energies of a teacher-forced Bible batch under bf16
    autocast, (117, 1, 51, 256) a step, take 4.7 instead of 5.7 ms forward and backward.
    Other dtypes and devices go straight to ``torch.tanh``.

    Example:
        >>> x = torch.randn(20, 3, 5).bfloat16()
        >>> torch.equal(tanh(x), torch.tanh(x))
        True
    """
    if x.device.type != "cpu" or x.dtype not in (torch.bfloat16, torch.float16) or x.dim() == 0:
        return torch.tanh(x)
    return _ChunkedFloat32Tanh.apply(x)


SCORE_CHUNK_ELEMENTS = 1 << 17
"""Elements of the tanh layer that decoding builds at a time (512 KB in float32: in cache)."""


def _additive_scores(
    q: Tensor,
    proj_keys: Tensor,
    energy: nn.Linear,
    coverage_proj: nn.Linear | None,
    coverage: Tensor | None,
) -> Tensor:
    """``v^T tanh(q + k_i [+ w_c c_i])`` for projected queries ``q`` (B, Lq, A), projected
    keys (B, Lk, A) and coverage (B, 1|Lq, Lk): scores (B, Lq, Lk).

    With gradients the (B, Lq, Lk, A) tanh layer is built whole: backward needs it. Without
    (decoding) it is built a few rows at a time, in place and in float32, and never whole:
    the same scores, and for beam search over Bible verses (320 rows x 40 keys x 256) 2.5
    instead of 13.7 ms a step, where building the layer whole, twice, was a third of the
    search's time.
    """
    if torch.is_grad_enabled() or torch.compiler.is_exporting():  # a graph: the whole layer
        hidden = q[:, :, None, :] + proj_keys[:, None, :, :]  # (B, Lq, Lk, A)
        if coverage is not None:
            assert coverage_proj is not None
            hidden = hidden + coverage_proj(coverage.unsqueeze(-1))  # (B, Lq, Lk, A)
        return energy(tanh(hidden)).squeeze(-1)  # (B, Lq, Lk)
    B, Lq, A = q.shape
    Lk = proj_keys.size(1)
    v = energy.weight[0].float()  # (A,)
    w_c = None if coverage_proj is None else coverage_proj.weight[:, 0].float()  # (A,)
    scores = q.new_empty(B, Lq, Lk, dtype=torch.float32)
    rows = max(1, SCORE_CHUNK_ELEMENTS // max(1, Lq * Lk * A))
    for s in range(0, B, rows):
        e = slice(s, s + rows)
        hidden = proj_keys[e, None, :, :].float() + q[e, :, None, :].float()  # (r, Lq, Lk, A)
        if coverage is not None and w_c is not None:
            hidden.addcmul_(coverage[e, :, :, None].float(), w_c)  # + w_c c_i
        scores[e] = hidden.tanh_() @ v  # (r, Lq, Lk)
    return scores


def _attend(
    scores: Tensor, values: Tensor, mask: Tensor | None, squeeze: bool
) -> tuple[Tensor, Tensor]:
    """Masked softmax of ``(B, Lq, Lk)`` scores, weighted sum of ``(B, Lk, Dv)`` values."""
    weights = masked_softmax(scores, mask)  # (B, Lq, Lk)
    # The weighted sum in the values' own dtype, outside autocast: under bf16 autocast it would
    # cast the (B, Lk, Dv) values anew at every decoder step and keep each copy for backward
    # (a teacher-forced Bible batch: 50 copies, 146 MB); a one-query product gains nothing
    # from bf16 matmuls.
    with torch.autocast(values.device.type, enabled=False):
        context = weights.to(values.dtype) @ values  # (B, Lq, Dv)
    if squeeze:
        return context.squeeze(1), weights.squeeze(1)  # (B, Dv), (B, Lk)
    return context, weights


class AdditiveAttention(nn.Module):
    """Bahdanau attention: ``score(q, k_i) = v^T tanh(W_q q + W_k k_i [+ w_c c_i])``.

    Args:
        query_dim: query (decoder state) size ``Dq``.
        key_dim: key (encoder state) size ``Dk``.
        hidden_dim: size ``A`` of the tanh layer.
        coverage: add the coverage term ``w_c c_i`` (See et al. 2017); ``forward`` then
            accepts ``coverage``.

    ``W_k`` carries the bias (so ``precompute_keys`` holds it once); ``W_q`` and ``v`` have none.

    Example:
        >>> att = AdditiveAttention(query_dim=3, key_dim=3, hidden_dim=4, coverage=True)
        >>> keys = torch.randn(1, 5, 3)
        >>> cov = torch.zeros(1, 5)
        >>> ctx, w = att(torch.randn(1, 3), keys, coverage=cov)
        >>> cov = cov + w  # the decoder accumulates the coverage vector
        >>> round(float(w.detach().sum()), 5)
        1.0
    """

    def __init__(self, query_dim: int, key_dim: int, hidden_dim: int, *, coverage: bool = False):
        super().__init__()
        self.query_dim, self.key_dim, self.hidden_dim = query_dim, key_dim, hidden_dim
        self.query_proj = nn.Linear(query_dim, hidden_dim, bias=False)  # W_q
        self.key_proj = nn.Linear(key_dim, hidden_dim)  # W_k (+ b)
        self.coverage_proj = nn.Linear(1, hidden_dim, bias=False) if coverage else None  # w_c
        self.energy = nn.Linear(hidden_dim, 1, bias=False)  # v

    def precompute_keys(self, keys: Tensor) -> Tensor:
        """``W_k k + b``: ``(B, Lk, Dk) -> (B, Lk, A)``; call once per source."""
        return self.key_proj(keys)

    def forward(
        self,
        query: Tensor,
        keys: Tensor,
        values: Tensor | None = None,
        *,
        mask: Tensor | None = None,
        proj_keys: Tensor | None = None,
        coverage: Tensor | None = None,
    ) -> tuple[Tensor, Tensor]:
        """Attend from ``query`` over ``keys``.

        Args:
            query: ``(B, Dq)`` one step, or ``(B, Lq, Dq)`` several.
            keys: ``(B, Lk, Dk)``.
            values: ``(B, Lk, Dv)``; defaults to ``keys``.
            mask: bool ``(B, Lk)`` or ``(B, Lq, Lk)``, ``True`` = may attend.
            proj_keys: ``precompute_keys(keys)`` ``(B, Lk, A)``, to skip recomputing it.
            coverage: ``(B, Lk)`` or ``(B, Lq, Lk)`` sum of past weights (needs
                ``coverage=True`` at construction).

        Returns:
            ``(context, weights)``: ``(B, Dv)`` and ``(B, Lk)`` for a one-step query, else
            ``(B, Lq, Dv)`` and ``(B, Lq, Lk)``.

        Raises:
            ValueError: on mismatched shapes, a non-bool mask, or coverage given to a layer
                built without it.
        """
        values, mask, coverage = _check_inputs(
            query, keys, values, mask, coverage, self.query_dim, self.key_dim
        )
        if coverage is not None and self.coverage_proj is None:
            raise ValueError("coverage given, but the layer was built with coverage=False")
        squeeze = query.dim() == 2
        q = query[:, None, :] if squeeze else query  # (B, Lq, Dq)
        if proj_keys is None:
            proj_keys = self.precompute_keys(keys)  # (B, Lk, A)
        scores = _additive_scores(
            self.query_proj(q), proj_keys, self.energy, self.coverage_proj, coverage
        )  # (B, Lq, Lk)
        return _attend(scores, values, mask, squeeze)


class LuongAttention(nn.Module):
    """Luong attention with ``dot``, ``general`` or ``concat`` scores.

    * ``dot``: ``q^T k`` (``query_dim == key_dim``);
    * ``general``: ``q^T W_a k`` (``W_a k`` precomputed once per source);
    * ``concat``: ``v^T tanh(W_a [q; k])``, computed as ``v^T tanh(W_q q + W_k k)``.

    Args:
        query_dim: ``Dq``.
        key_dim: ``Dk``.
        mode: ``"dot"``, ``"general"`` or ``"concat"``.
        hidden_dim: tanh layer size for ``concat`` (defaults to ``query_dim``).
        coverage: add ``w_c c_i`` to each score (``concat``: inside the tanh).

    Example:
        >>> att = LuongAttention(4, 4, mode="general")
        >>> ctx, w = att(torch.randn(2, 3, 4), torch.randn(2, 5, 4))  # 3 query steps
        >>> ctx.shape, w.shape
        (torch.Size([2, 3, 4]), torch.Size([2, 3, 5]))
    """

    def __init__(
        self,
        query_dim: int,
        key_dim: int,
        *,
        mode: Literal["dot", "general", "concat"] = "general",
        hidden_dim: int | None = None,
        coverage: bool = False,
    ) -> None:
        super().__init__()
        if mode not in LUONG_MODES:
            raise ValueError(f"unknown Luong mode {mode!r}; valid: {', '.join(LUONG_MODES)}")
        if mode == "dot" and query_dim != key_dim:
            raise ValueError(f"mode='dot' needs query_dim == key_dim, got {query_dim} != {key_dim}")
        self.mode, self.query_dim, self.key_dim = mode, query_dim, key_dim
        self.key_proj: nn.Linear | None = None
        self.query_proj: nn.Linear | None = None
        self.energy: nn.Linear | None = None
        if mode == "general":
            self.key_proj = nn.Linear(key_dim, query_dim, bias=False)  # W_a
        elif mode == "concat":
            hidden_dim = hidden_dim or query_dim
            self.query_proj = nn.Linear(query_dim, hidden_dim, bias=False)
            self.key_proj = nn.Linear(key_dim, hidden_dim)
            self.energy = nn.Linear(hidden_dim, 1, bias=False)
        self.hidden_dim = hidden_dim
        if coverage:
            self.coverage_proj: nn.Linear | None = nn.Linear(
                1, hidden_dim if mode == "concat" else 1, bias=False
            )
        else:
            self.coverage_proj = None

    def precompute_keys(self, keys: Tensor) -> Tensor:
        """The per-source part of the score, ``(B, Lk, Dk) -> (B, Lk, Dq | A)``.

        ``k`` for dot, ``W_a k`` for general, ``W_k k + b`` for concat.
        """
        return keys if self.key_proj is None else self.key_proj(keys)

    def forward(
        self,
        query: Tensor,
        keys: Tensor,
        values: Tensor | None = None,
        *,
        mask: Tensor | None = None,
        proj_keys: Tensor | None = None,
        coverage: Tensor | None = None,
    ) -> tuple[Tensor, Tensor]:
        """Attend from ``query`` over ``keys``; arguments and returns as
        :meth:`AdditiveAttention.forward`."""
        values, mask, coverage = _check_inputs(
            query, keys, values, mask, coverage, self.query_dim, self.key_dim
        )
        if coverage is not None and self.coverage_proj is None:
            raise ValueError("coverage given, but the layer was built with coverage=False")
        squeeze = query.dim() == 2
        q = query[:, None, :] if squeeze else query  # (B, Lq, Dq)
        if proj_keys is None:
            proj_keys = self.precompute_keys(keys)  # (B, Lk, Dq | A)
        if self.mode == "concat":
            assert self.query_proj is not None and self.energy is not None
            scores = _additive_scores(
                self.query_proj(q), proj_keys, self.energy, self.coverage_proj, coverage
            )  # (B, Lq, Lk)
        else:
            scores = q @ proj_keys.transpose(1, 2)  # (B, Lq, Lk)
            if coverage is not None:
                scores = scores + self.coverage_proj(coverage.unsqueeze(-1)).squeeze(-1)
        return _attend(scores, values, mask, squeeze)


def coverage_loss(weights: Tensor, coverage: Tensor, mask: Tensor | None = None) -> Tensor:
    """See et al.'s coverage loss ``sum_i min(a_i, c_i)`` for one step, per batch row.

    Args:
        weights: ``(B, Lk)`` (or ``(B, Lq, Lk)``) this step's attention.
        coverage: same shape, the sum of the previous steps' attention.
        mask: optional bool, ``True`` = real key; masked positions contribute nothing.

    Returns:
        ``(B,)`` (or ``(B, Lq)``) loss terms.

    Example:
        >>> loss = coverage_loss(torch.tensor([[0.5, 0.5]]), torch.tensor([[1.0, 0.25]]))
        >>> loss.tolist()  # min(0.5, 1.0) + min(0.5, 0.25)
        [0.75]
    """
    if weights.shape != coverage.shape:
        raise ValueError(
            f"weights and coverage must match, got {tuple(weights.shape)} and "
            f"{tuple(coverage.shape)}"
        )
    overlap = torch.minimum(weights, coverage)
    if mask is not None:
        overlap = overlap.masked_fill(~mask, 0.0)
    return overlap.sum(dim=-1)
