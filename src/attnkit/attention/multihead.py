"""Multi-head attention: self/cross attention, grouped-query heads and a KV cache.

Vaswani et al. 2017 ("Attention Is All You Need"); grouped-query attention from
Ainslie et al. 2023 ("GQA"). Batch-first throughout.

Notation for tensor shapes:
    B: batch, Lq: query length, Lk: key length, E: embed_dim, H: num_heads,
    Hkv: num_kv_heads, D = E // H: head dim.

Example:
    >>> import torch
    >>> from attnkit.attention import KVCache, MultiHeadAttention
    >>> mha = MultiHeadAttention(16, 4, num_kv_heads=2).eval()
    >>> x = torch.randn(2, 5, 16)  # (B, L, E)
    >>> full, _ = mha(x, causal=True)
    >>> cache = KVCache()
    >>> steps = [mha(x[:, t : t + 1], causal=True, cache=cache)[0] for t in range(5)]
    >>> torch.allclose(torch.cat(steps, dim=1), full, atol=1e-6)
    True
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from attnkit.attention.sdpa import scaled_dot_product_attention

__all__ = ["KVCache", "MultiHeadAttention"]


class KVCache:
    """Projected keys and values kept between decoding steps.

    A fresh cache is empty; each :class:`MultiHeadAttention` call with ``cache=`` appends the new
    keys/values ``(B, Hkv, L_new, D)`` and attends over everything stored. With ``static=True``
    (cross-attention over a fixed encoder output) the first call fills the cache and later calls
    reuse it without projecting ``key``/``value`` again (they may then be ``None``).

    Args:
        static: fill once, then reuse (cross-attention) instead of appending (self-attention).

    Example:
        >>> cache = KVCache()
        >>> k, v = cache.update(torch.zeros(1, 2, 3, 4), torch.zeros(1, 2, 3, 4))
        >>> len(cache)
        3
    """

    def __init__(self, *, static: bool = False) -> None:
        self.static = static
        self.k: Tensor | None = None  # (B, Hkv, L, D)
        self.v: Tensor | None = None  # (B, Hkv, L, D)

    def __len__(self) -> int:
        return 0 if self.k is None else self.k.shape[2]

    @property
    def filled(self) -> bool:
        """Whether anything is stored."""
        return self.k is not None

    def update(self, k: Tensor, v: Tensor) -> tuple[Tensor, Tensor]:
        """Append ``k, v`` ``(B, Hkv, L_new, D)`` and return all keys/values ``(B, Hkv, L, D)``."""
        if self.k is None or self.static:
            self.k, self.v = k, v
        else:
            if k.shape[:2] != self.k.shape[:2] or k.shape[3] != self.k.shape[3]:
                raise ValueError(
                    f"cache holds keys of shape {tuple(self.k.shape)}, cannot append "
                    f"{tuple(k.shape)}"
                )
            self.k = torch.cat([self.k, k], dim=2)  # (B, Hkv, L + L_new, D)
            self.v = torch.cat([self.v, v], dim=2)
        return self.k, self.v

    def reorder(self, index: Tensor) -> None:
        """Select batch rows (e.g. surviving beams): ``index`` is ``(B',)`` long."""
        if self.k is not None:
            self.k = self.k.index_select(0, index)
            self.v = self.v.index_select(0, index)

    def reset(self) -> None:
        """Forget everything stored."""
        self.k = self.v = None


class MultiHeadAttention(nn.Module):
    """Multi-head (and grouped-query) scaled dot-product attention, batch-first.

    Args:
        embed_dim: model width ``E`` (query input and output size).
        num_heads: query heads ``H``; must divide ``embed_dim``.
        num_kv_heads: key/value heads ``Hkv`` (grouped-query attention); must divide
            ``num_heads``. Defaults to ``num_heads`` (ordinary multi-head attention).
        kdim: key input size; defaults to ``embed_dim``.
        vdim: value input size; defaults to ``embed_dim``.
        bias: biases in the four projections.
        dropout: dropout on the attention probabilities (training only).

    Submodules ``q_proj``, ``k_proj``, ``v_proj``, ``out_proj`` are :class:`torch.nn.Linear`.

    Example:
        >>> mha = MultiHeadAttention(8, 2)
        >>> q, kv = torch.randn(3, 4, 8), torch.randn(3, 6, 8)  # (B, Lq, E), (B, Lk, E)
        >>> out, w = mha(q, kv, return_weights=True)
        >>> out.shape, w.shape
        (torch.Size([3, 4, 8]), torch.Size([3, 2, 4, 6]))
    """

    def __init__(
        self,
        embed_dim: int,
        num_heads: int,
        *,
        num_kv_heads: int | None = None,
        kdim: int | None = None,
        vdim: int | None = None,
        bias: bool = True,
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        if num_heads < 1 or embed_dim % num_heads:
            raise ValueError(f"embed_dim={embed_dim} must be divisible by num_heads={num_heads}")
        num_kv_heads = num_heads if num_kv_heads is None else num_kv_heads
        if num_kv_heads < 1 or num_heads % num_kv_heads:
            raise ValueError(
                f"num_heads={num_heads} must be a multiple of num_kv_heads={num_kv_heads}"
            )
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {dropout}")
        self.embed_dim = embed_dim
        self.num_heads = num_heads
        self.num_kv_heads = num_kv_heads
        self.head_dim = embed_dim // num_heads
        self.kdim = embed_dim if kdim is None else kdim
        self.vdim = embed_dim if vdim is None else vdim
        self.dropout = dropout
        kv_dim = num_kv_heads * self.head_dim
        self.q_proj = nn.Linear(embed_dim, embed_dim, bias=bias)
        self.k_proj = nn.Linear(self.kdim, kv_dim, bias=bias)
        self.v_proj = nn.Linear(self.vdim, kv_dim, bias=bias)
        self.out_proj = nn.Linear(embed_dim, embed_dim, bias=bias)
        self._reset_parameters()

    def _reset_parameters(self) -> None:
        for lin in (self.q_proj, self.k_proj, self.v_proj, self.out_proj):
            nn.init.xavier_uniform_(lin.weight)
            if lin.bias is not None:
                nn.init.zeros_(lin.bias)

    def forward(
        self,
        query: Tensor,
        key: Tensor | None = None,
        value: Tensor | None = None,
        *,
        mask: Tensor | None = None,
        causal: bool = False,
        cache: KVCache | None = None,
        return_weights: bool = False,
    ) -> tuple[Tensor, Tensor | None]:
        """Attend from ``query`` to ``key``/``value``.

        Args:
            query: ``(B, Lq, E)``.
            key: ``(B, Lk, kdim)``; defaults to ``query`` (self-attention).
            value: ``(B, Lk, vdim)``; defaults to ``key``.
            mask: bool, ``True`` = may attend, broadcastable to ``(B, H, Lq, Lk)`` where ``Lk``
                counts cached keys too (a ``(B, 1, 1, Lk)`` key-padding mask works).
            causal: bottom-right aligned causal mask (right for incremental decoding).
            cache: a :class:`KVCache` to append to / read from.
            return_weights: also return the ``(B, H, Lq, Lk)`` attention weights.

        Returns:
            ``(out (B, Lq, E), weights (B, H, Lq, Lk) or None)``.
        """
        if query.dim() != 3 or query.shape[-1] != self.embed_dim:
            raise ValueError(f"query must be (B, Lq, {self.embed_dim}), got {tuple(query.shape)}")
        B, Lq, _ = query.shape
        H, D = self.num_heads, self.head_dim
        q = self.q_proj(query).view(B, Lq, H, D).transpose(1, 2)  # (B, H, Lq, D)
        if cache is not None and cache.static and cache.filled:
            k, v = cache.k, cache.v  # (B, Hkv, Lk, D)
        else:
            if key is None:
                key = query
            if value is None:
                value = key
            if key.dim() != 3 or key.shape[0] != B or key.shape[-1] != self.kdim:
                raise ValueError(f"key must be (B={B}, Lk, {self.kdim}), got {tuple(key.shape)}")
            if value.shape[:2] != key.shape[:2] or value.shape[-1] != self.vdim:
                raise ValueError(
                    f"value must be (B, Lk={key.shape[1]}, {self.vdim}), got {tuple(value.shape)}"
                )
            k, v = self.project_kv(key, value)  # (B, Hkv, Lk, D) each
            if cache is not None:
                k, v = cache.update(k, v)  # (B, Hkv, L_cached + Lk, D)
        out, weights = scaled_dot_product_attention(
            q,
            k,
            v,
            mask,
            causal=causal,
            dropout_p=self.dropout if self.training else 0.0,
            return_weights=return_weights,
        )  # (B, H, Lq, D)
        out = out.transpose(1, 2).reshape(B, Lq, self.embed_dim)  # (B, Lq, E)
        return self.out_proj(out), weights

    def project_kv(self, key: Tensor, value: Tensor) -> tuple[Tensor, Tensor]:
        """Keys ``(B, Lk, kdim)`` and values ``(B, Lk, vdim)`` projected and split into heads:
        ``(B, Hkv, Lk, D)`` each, what a :class:`KVCache` stores (a static cache can be filled
        from it ahead of decoding, as an exported decoder step's inputs are).

        Example:
            >>> mha = MultiHeadAttention(8, 4, num_kv_heads=2)
            >>> [t.shape for t in mha.project_kv(torch.randn(3, 5, 8), torch.randn(3, 5, 8))]
            [torch.Size([3, 2, 5, 2]), torch.Size([3, 2, 5, 2])]
        """
        B, Lk, _ = key.shape
        Hkv, D = self.num_kv_heads, self.head_dim
        k = self.k_proj(key).view(B, Lk, Hkv, D).transpose(1, 2)  # (B, Hkv, Lk, D)
        v = self.v_proj(value).view(B, Lk, Hkv, D).transpose(1, 2)  # (B, Hkv, Lk, D)
        return k, v

    @classmethod
    def from_torch(cls, mha: nn.MultiheadAttention) -> MultiHeadAttention:
        """A :class:`MultiHeadAttention` with the weights of a ``torch.nn.MultiheadAttention``.

        Args:
            mha: the torch module (any ``batch_first``; ``add_bias_kv`` and ``add_zero_attn``
                are not supported).

        Returns:
            An equivalent module (same dtype/device); feed it batch-first inputs.

        Raises:
            ValueError: if ``mha`` uses ``add_bias_kv`` or ``add_zero_attn``.

        Example:
            >>> ref = torch.nn.MultiheadAttention(8, 2, batch_first=True)
            >>> ours = MultiHeadAttention.from_torch(ref)
            >>> x = torch.randn(1, 3, 8)
            >>> torch.allclose(ours(x)[0], ref(x, x, x, need_weights=False)[0], atol=1e-6)
            True
        """
        if mha.bias_k is not None or mha.add_zero_attn:
            raise ValueError("add_bias_kv / add_zero_attn are not supported by from_torch")
        E = mha.embed_dim
        has_bias = mha.in_proj_bias is not None
        new = cls(E, mha.num_heads, kdim=mha.kdim, vdim=mha.vdim, bias=has_bias,
                  dropout=mha.dropout)  # fmt: skip
        new = new.to(device=mha.out_proj.weight.device, dtype=mha.out_proj.weight.dtype)
        with torch.no_grad():
            if mha._qkv_same_embed_dim:
                wq, wk, wv = mha.in_proj_weight.chunk(3, dim=0)
            else:
                wq, wk, wv = mha.q_proj_weight, mha.k_proj_weight, mha.v_proj_weight
            new.q_proj.weight.copy_(wq)
            new.k_proj.weight.copy_(wk)
            new.v_proj.weight.copy_(wv)
            new.out_proj.weight.copy_(mha.out_proj.weight)
            if has_bias:
                bq, bk, bv = mha.in_proj_bias.chunk(3, dim=0)
                new.q_proj.bias.copy_(bq)
                new.k_proj.bias.copy_(bk)
                new.v_proj.bias.copy_(bv)
                new.out_proj.bias.copy_(mha.out_proj.bias)
        return new
