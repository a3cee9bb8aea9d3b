"""Scaled dot-product attention with three paths: fused, eager (weights) and chunked.

``softmax(q @ k^T * scale + mask) @ v`` (Vaswani et al. 2017, "Attention Is All You Need").

* **fused**: :func:`torch.nn.functional.scaled_dot_product_attention`, used when the weights
  are not asked; the no-mask call does almost no Python work.
* **eager**: explicit ``softmax(QK^T)V``, used when ``return_weights=True`` (and in place of the
  fused kernel on CPU in bf16 / fp16 for keys <= 256, where it is faster).
* **chunked**: online softmax over blocks of keys (Milakov & Gimelshein 2018; FlashAttention,
  Dao et al. 2022), used when ``chunk_size`` is given. Forward and backward keep only
  ``O(Lq * chunk_size)`` scores per (batch, head) alive: the backward recomputes each block
  from the saved log-sum-exp instead of storing the ``(Lq, Lk)`` matrix.

All three agree on masking: ``mask`` is bool, ``True`` = may attend, broadcastable to
``(B, H, Lq, Lk)``; ``causal=True`` is aligned bottom-right (query ``i`` sees keys
``<= i + (Lk - Lq)``); a query row with no visible key returns a zero output and zero weights,
never NaN, in forward and backward. Grouped-query attention: ``k`` and ``v`` may have
``Hkv`` heads with ``H % Hkv == 0``; query head ``h`` uses key/value head ``h // (H // Hkv)``
(the ``repeat_interleave`` layout).

Notation for tensor shapes:
    B: batch, H: query heads, Hkv: key/value heads, G = H // Hkv, Lq: query length,
    Lk: key length, D: head dim (Dv for values).

Example:
    >>> import torch
    >>> from attnkit.attention import scaled_dot_product_attention
    >>> q = torch.randn(2, 4, 5, 8)  # (B, H, Lq, D)
    >>> k = v = torch.randn(2, 2, 7, 8)  # (B, Hkv, Lk, D)
    >>> out, w = scaled_dot_product_attention(q, k, v, causal=True, return_weights=True)
    >>> out.shape, w.shape
    (torch.Size([2, 4, 5, 8]), torch.Size([2, 4, 5, 7]))
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor

from attnkit.attention.masks import causal_mask

__all__ = ["scaled_dot_product_attention"]

_sdpa = F.scaled_dot_product_attention
_LOW_PRECISION = (torch.float16, torch.bfloat16)


def scaled_dot_product_attention(
    q: Tensor,
    k: Tensor,
    v: Tensor,
    mask: Tensor | None = None,
    *,
    causal: bool = False,
    dropout_p: float = 0.0,
    scale: float | None = None,
    return_weights: bool = False,
    chunk_size: int | None = None,
) -> tuple[Tensor, Tensor | None]:
    """Scaled dot-product attention; fused, eager or chunked.

    Args:
        q: ``(B, H, Lq, D)`` queries.
        k: ``(B, Hkv, Lk, D)`` keys, ``H % Hkv == 0``.
        v: ``(B, Hkv, Lk, Dv)`` values.
        mask: bool, ``True`` = may attend, broadcastable to ``(B, H, Lq, Lk)``
            (e.g. ``(B, 1, 1, Lk)`` key padding or ``(Lq, Lk)``).
        causal: add a bottom-right aligned causal mask (combined with ``mask``).
        dropout_p: dropout on the attention probabilities (applied whenever ``> 0``;
            pass ``0.0`` at evaluation time).
        scale: score scale; defaults to ``1 / sqrt(D)``.
        return_weights: also return the ``(B, H, Lq, Lk)`` attention weights (eager path).
            They are the probabilities before dropout.
        chunk_size: if given, use the memory-lean chunked path with key blocks of this size.

    Returns:
        ``(out, weights)``: ``out`` is ``(B, H, Lq, Dv)``; ``weights`` is ``(B, H, Lq, Lk)``
        or ``None`` when not asked. Rows with no visible key are zero in both.

    Raises:
        ValueError: on mismatched shapes, a non-bool mask, ``H % Hkv != 0``,
            ``chunk_size < 1`` or ``chunk_size`` combined with ``return_weights``.

    Example:
        >>> q = k = v = torch.randn(1, 2, 3, 4)
        >>> out, _ = scaled_dot_product_attention(q, k, v)
        >>> out.shape
        torch.Size([1, 2, 3, 4])
    """
    if q.dim() != 4 or k.dim() != 4 or v.dim() != 4:
        raise ValueError(
            "q, k, v must be 4-D (B, H, L, D); got shapes "
            f"{tuple(q.shape)}, {tuple(k.shape)}, {tuple(v.shape)}"
        )
    B, H, Lq, D = q.shape
    Bk, Hkv, Lk, Dk = k.shape
    if Bk != B or Dk != D or v.shape[0] != B or v.shape[1] != Hkv or v.shape[2] != Lk:
        raise ValueError(
            "shape mismatch: expected q (B, H, Lq, D), k (B, Hkv, Lk, D), v (B, Hkv, Lk, Dv); got "
            f"{tuple(q.shape)}, {tuple(k.shape)}, {tuple(v.shape)}"
        )
    if Hkv == 0 or H % Hkv:
        raise ValueError(f"query heads H={H} must be a multiple of key/value heads Hkv={Hkv}")

    eager = chunk_size is None and Lk > 0 and (return_weights or _eager_is_faster(q, Lk))
    if chunk_size is None and mask is None and not eager and Lk > 0:
        # Fast path: nothing to build, hand straight to the fused kernel.
        if not causal or Lq == 1:  # a single query sees every key (bottom-right alignment)
            out = _sdpa(q, k, v, dropout_p=dropout_p, scale=scale, enable_gqa=Hkv != H)
            return out, None
        if Lq == Lk:
            out = _sdpa(q, k, v, dropout_p=dropout_p, is_causal=True, scale=scale,
                        enable_gqa=Hkv != H)  # fmt: skip
            return out, None

    if mask is not None:
        mask = _check_mask(mask, B, H, Lq, Lk)
    if causal and Lq > 1 and chunk_size is None:  # the chunked path applies it per block
        cm = causal_mask(Lq, Lk, device=q.device)  # (Lq, Lk)
        mask = cm if mask is None else mask & cm  # (.., Lq, Lk)
    if mask is not None and mask.dim() < 4:
        mask = mask.reshape((1,) * (4 - mask.dim()) + tuple(mask.shape))  # (1, 1, Lq, Lk)

    if chunk_size is not None:
        if return_weights:
            raise ValueError("chunk_size cannot be combined with return_weights=True")
        if chunk_size < 1:
            raise ValueError(f"chunk_size must be >= 1, got {chunk_size}")
        return _chunked(q, k, v, mask, causal, dropout_p, scale, chunk_size), None

    if Lk == 0:
        out = q.new_zeros((B, H, Lq, v.shape[-1]))
        return out, (q.new_zeros((B, H, Lq, 0)) if return_weights else None)

    if eager:
        out, weights = _eager(q, k, v, mask, dropout_p, scale)
        return out, (weights if return_weights else None)

    # Fused path with a mask: rows with no visible key are opened for the kernel (so no
    # backend can produce NaN) and zeroed afterwards (always, in a traced graph: the shortcut
    # is a data-dependent branch).
    has_key = mask.any(dim=-1, keepdim=True)  # (B|1, H|1, Lq|1, 1)
    if not torch.compiler.is_exporting() and bool(has_key.all()):
        out = _sdpa(q, k, v, attn_mask=mask, dropout_p=dropout_p, scale=scale,
                    enable_gqa=Hkv != H)  # fmt: skip
        return out, None
    out = _sdpa(q, k, v, attn_mask=mask | ~has_key, dropout_p=dropout_p, scale=scale,
                enable_gqa=Hkv != H)  # fmt: skip
    return out.masked_fill(~has_key, 0.0), None


def _eager_is_faster(q: Tensor, Lk: int) -> bool:
    """Whether the explicit path beats torch's fused kernel here: on CPU in bfloat16 / float16
    with short keys, where the fused kernel's backward is several times slower (measured in
    ``attnkit bench attention``, rows ``bf16 train``)."""
    return (
        EAGER_ON_CPU_LOW_PRECISION
        and q.device.type == "cpu"
        and q.dtype in _LOW_PRECISION
        and Lk <= 256
    )


EAGER_ON_CPU_LOW_PRECISION = True


def _check_mask(mask: Tensor, B: int, H: int, Lq: int, Lk: int) -> Tensor:
    """Validate a bool mask against ``(B, H, Lq, Lk)`` and return it as 4-D."""
    if mask.dtype != torch.bool:
        raise ValueError(
            f"mask must be bool with True = may attend, got dtype {mask.dtype} "
            "(convert a key_padding_mask with masks.from_key_padding_mask)"
        )
    if mask.dim() > 4:
        raise ValueError(f"mask must have at most 4 dims (B, H, Lq, Lk), got {tuple(mask.shape)}")
    shape4 = (1,) * (4 - mask.dim()) + tuple(mask.shape)
    for got, want in zip(shape4, (B, H, Lq, Lk), strict=True):
        if got != 1 and got != want:
            raise ValueError(
                f"mask of shape {tuple(mask.shape)} is not broadcastable to "
                f"(B, H, Lq, Lk) = {(B, H, Lq, Lk)}"
            )
    return mask.reshape(shape4)


def _eager(
    q: Tensor, k: Tensor, v: Tensor, mask: Tensor | None, dropout_p: float, scale: float | None
) -> tuple[Tensor, Tensor]:
    """Explicit softmax(QK^T)V returning the weights; GQA without copying K/V."""
    B, H, Lq, D = q.shape
    Hkv, Lk = k.shape[1], k.shape[2]
    if scale is None:
        scale = 1.0 / math.sqrt(D)
    # Scale q (Lq * D elements) rather than the scores (Lq * Lk).
    qg = (q * scale).reshape(B, Hkv, -1, D)  # (B, Hkv, G * Lq, D)
    scores = (qg @ k.transpose(-2, -1)).view(B, H, Lq, Lk)  # (B, H, Lq, Lk)
    has_key = None
    if mask is not None:
        # A finite fill keeps fully-masked rows finite (uniform), zeroed below.
        scores = scores.masked_fill_(~mask, torch.finfo(scores.dtype).min)
        has_key = mask.any(dim=-1, keepdim=True)  # (B|1, H|1, Lq|1, 1)
        if not torch.compiler.is_exporting() and bool(has_key.all()):  # traced: keep the fill
            has_key = None
    weights = torch.softmax(scores, dim=-1)  # (B, H, Lq, Lk)
    if has_key is not None:
        weights = weights.masked_fill(~has_key, 0.0)
    probs = F.dropout(weights, p=dropout_p) if dropout_p > 0 else weights
    out = probs.reshape(B, Hkv, -1, Lk) @ v  # (B, Hkv, G * Lq, Dv)
    return out.view(B, H, Lq, v.shape[-1]), weights  # (B, H, Lq, Dv)


# ----------------------------------------------------------------------------- chunked path
#
# The keys are cut into blocks of ``chunk_size``. Each *task* attends one block of keys from a
# range of query rows and returns a block-normalised output plus its log-sum-exp (lse); the
# outputs are merged with the running lse (online softmax). The backward recomputes every task
# from the final output and lse (FlashAttention-2's backward), so neither pass holds more than
# one ``(rows, chunk_size)`` block of scores. On CPU without dropout each task runs torch's fused
# flash kernel (which returns the lse); elsewhere a plain-torch kernel does the same maths.
#
# Causal blocks skip the rows that cannot see them; without a user mask a block's rows split
# into a diagonal square (top-left causal, which is exactly the bottom-right rule there) and the
# rows below it (no mask at all).

_flash_fwd = getattr(torch.ops.aten, "_scaled_dot_product_flash_attention_for_cpu", None)
_flash_bwd = getattr(torch.ops.aten, "_scaled_dot_product_flash_attention_for_cpu_backward", None)
_NONE, _CAUSAL, _MASK = 0, 1, 2


def _chunked(
    q: Tensor,
    k: Tensor,
    v: Tensor,
    mask: Tensor | None,
    causal: bool,
    dropout_p: float,
    scale: float | None,
    chunk_size: int,
) -> Tensor:
    B, H, Lq, D = q.shape
    Lk = k.shape[2]
    if Lk == 0:
        return q.new_zeros((B, H, Lq, v.shape[-1]))
    if scale is None:
        scale = 1.0 / math.sqrt(D)
    if mask is not None:
        # (B|1, H|1, Lq|1, Lk|1) -> strided view (B|1, H|1, Lq, Lk) so blocks can be sliced.
        mask = mask.expand(mask.shape[0], mask.shape[1], Lq, Lk)
    seed = int(torch.randint(0, 2**62, (1,)).item()) if dropout_p > 0 else 0
    return _ChunkedAttention.apply(q, k, v, mask, causal, float(scale), chunk_size,
                                   float(dropout_p), seed)  # fmt: skip


def _tasks(Lq: int, Lk: int, chunk: int, causal: bool, masked: bool):
    """``(j0, j1, r0, r1, mode)``: key block ``[j0, j1)`` seen by query rows ``[r0, r1)``."""
    offset = Lk - Lq  # query i sits at key position i + offset
    for j0 in range(0, Lk, chunk):
        j1 = min(j0 + chunk, Lk)
        if not causal:
            yield j0, j1, 0, Lq, (_MASK if masked else _NONE)
            continue
        r0 = max(0, j0 - offset)  # first query that sees key j0
        if r0 >= Lq:
            break
        if masked or j0 - offset < 0:
            yield j0, j1, r0, Lq, _MASK
        else:
            rd = min(r0 + (j1 - j0), Lq)  # rows on the diagonal square
            yield j0, j1, r0, rd, _CAUSAL
            if rd < Lq:
                yield j0, j1, rd, Lq, _NONE


def _block_mask(mask: Tensor | None, causal: bool, Lq: int, Lk: int, j0, j1, r0, r1) -> Tensor:
    """Bool ``(B|1, H|1, r1 - r0, j1 - j0)`` mask of one task (True = may attend)."""
    bm = None if mask is None else mask[:, :, r0:r1, j0:j1]
    if causal:
        i = torch.arange(r0, r1)[:, None] + (Lk - Lq)  # (rows, 1)
        j = torch.arange(j0, j1)[None, :]  # (1, c)
        cm = (j <= i).to(mask.device if mask is not None else "cpu")
        bm = cm if bm is None else bm & cm
    return bm


def _use_flash(q: Tensor, v: Tensor, dropout_p: float) -> bool:
    return (
        _flash_fwd is not None
        and q.device.type == "cpu"
        and dropout_p == 0.0
        and v.shape[-1] == q.shape[-1]  # the kernel needs Dv == D
        and q.dtype in (torch.float32, torch.float64, torch.bfloat16, torch.float16)
    )


def _dropout_scale(shape, p: float, seed: int, device, dtype) -> Tensor:
    """Deterministic dropout multiplier (0 or 1 / (1 - p)), identical in forward and backward."""
    gen = torch.Generator(device=device)
    gen.manual_seed(seed)
    keep = torch.rand(shape, generator=gen, device=device) >= p
    return keep.to(dtype) / (1.0 - p)


def _task_forward(qb, kb, vb, bm, mode, scale, dropout_p, seed, cdt):
    """One task: block-normalised output ``(B, H, r, Dv)`` and lse ``(B, H, r)`` (-inf = empty)."""
    if _use_flash(qb, vb, dropout_p):
        add = None
        if mode == _MASK:
            add = torch.zeros(bm.shape, dtype=qb.dtype, device=qb.device)
            add.masked_fill_(~bm, float("-inf"))  # the kernel wants an additive mask
        o, lse = _flash_fwd(qb, kb, vb, 0.0, mode == _CAUSAL, attn_mask=add, scale=scale)
        lse = lse.to(cdt)
        if mode == _MASK:
            lse = lse.masked_fill(~bm.any(dim=-1), float("-inf"))  # kernel reports 0 there
        return o, lse
    s = _task_scores(qb, kb, bm, mode, scale, cdt)  # (B, H, r, c)
    m = s.amax(dim=-1, keepdim=True)
    m = m.masked_fill(m == float("-inf"), 0.0)  # rows with no key
    p = torch.exp(s - m)
    den = p.sum(dim=-1, keepdim=True)  # (B, H, r, 1)
    lse = (m + torch.log(den)).squeeze(-1)  # log(0) = -inf for empty rows
    p = p / den.masked_fill(den == 0, 1.0)
    if dropout_p > 0:
        p = p * _dropout_scale(p.shape, dropout_p, seed, p.device, p.dtype)
    return p.to(vb.dtype) @ vb, lse


def _task_scores(qb, kb, bm, mode, scale, cdt):
    s = ((qb * scale) @ kb.transpose(-2, -1)).to(cdt)  # (B, H, r, c)
    if mode == _CAUSAL:
        r, c = s.shape[-2:]
        s.masked_fill_(torch.ones(r, c, dtype=torch.bool, device=s.device).triu_(1), -math.inf)
    elif mode == _MASK:
        s.masked_fill_(~bm, -math.inf)
    return s


def _task_backward(dob, qb, kb, vb, ob, lseb, bm, mode, scale, dropout_p, seed, cdt):
    """Gradients of one task given the *final* output and lse rows."""
    if _use_flash(qb, vb, dropout_p):
        add = None
        if mode == _MASK:
            add = torch.zeros(bm.shape, dtype=qb.dtype, device=qb.device)
            add.masked_fill_(~bm, float("-inf"))
        return _flash_bwd(dob, qb, kb, vb, ob, lseb, 0.0, mode == _CAUSAL, attn_mask=add,
                          scale=scale)  # fmt: skip
    s = _task_scores(qb, kb, bm, mode, scale, cdt)  # (B, H, r, c)
    p = torch.exp(s - lseb.to(cdt).unsqueeze(-1))  # final probabilities of this block
    dp = (dob @ vb.transpose(-2, -1)).to(cdt)  # (B, H, r, c)
    pd = p
    if dropout_p > 0:
        z = _dropout_scale(p.shape, dropout_p, seed, p.device, p.dtype)
        pd, dp = p * z, dp * z
    dv = pd.to(dob.dtype).transpose(-2, -1) @ dob  # (B, H, c, Dv)
    delta = (dob.to(cdt) * ob.to(cdt)).sum(dim=-1, keepdim=True)  # rowsum(dO * O)
    ds = (p * (dp - delta)).to(qb.dtype)  # d loss / d scaled scores
    dq = (ds @ kb) * scale  # (B, H, r, D)
    dk = ds.transpose(-2, -1) @ (qb * scale)  # (B, H, c, D)
    return dq, dk, dv


def _heads(x: Tensor, G: int) -> Tensor:
    """``(B, Hkv, c, D) -> (B, H, c, D)`` for grouped-query blocks."""
    return x if G == 1 else x.repeat_interleave(G, dim=1)


def _fold(dx: Tensor, G: int) -> Tensor:
    """``(B, H, c, D) -> (B, Hkv, c, D)``: sum a block's gradient over each group of heads."""
    if G == 1:
        return dx
    B, H, c, D = dx.shape
    return dx.view(B, H // G, G, c, D).sum(dim=2)


class _ChunkedAttention(torch.autograd.Function):
    """Online-softmax attention over key blocks with a recomputing, block-wise backward."""

    @staticmethod
    def forward(ctx, q, k, v, mask, causal, scale, chunk, dropout_p, seed):
        B, H, Lq, _ = q.shape
        Hkv, Lk, Dv = k.shape[1], k.shape[2], v.shape[3]
        G = H // Hkv
        cdt = torch.float32 if q.dtype in _LOW_PRECISION else q.dtype
        acc = torch.zeros(B, H, Lq, Dv, dtype=cdt, device=q.device)  # normalised so far
        lse = torch.full((B, H, Lq), float("-inf"), dtype=cdt, device=q.device)
        tasks = list(_tasks(Lq, Lk, chunk, causal, mask is not None))
        for t, (j0, j1, r0, r1, mode) in enumerate(tasks):
            bm = _block_mask(mask, causal, Lq, Lk, j0, j1, r0, r1) if mode == _MASK else None
            o_b, lse_b = _task_forward(
                q[:, :, r0:r1],
                _heads(k[:, :, j0:j1], G),
                _heads(v[:, :, j0:j1], G),
                bm,
                mode,
                scale,
                dropout_p,
                seed + t,
                cdt,
            )  # (B, H, r, Dv), (B, H, r)
            old = lse[:, :, r0:r1]
            new = torch.logaddexp(old, lse_b)
            safe = new.masked_fill(new == float("-inf"), 0.0)
            w_old = torch.exp(old - safe).unsqueeze(-1)  # (B, H, r, 1)
            w_b = torch.exp(lse_b - safe).unsqueeze(-1)
            acc[:, :, r0:r1] = acc[:, :, r0:r1] * w_old + o_b.to(cdt) * w_b
            lse[:, :, r0:r1] = new
        out = acc.to(q.dtype)  # (B, H, Lq, Dv); rows with no key stay 0
        lse = lse.masked_fill(lse == float("-inf"), float("inf"))  # then exp(s - lse) = 0
        ctx.save_for_backward(q, k, v, out, lse, mask)
        ctx.cfg = (causal, scale, chunk, dropout_p, seed)
        return out

    @staticmethod
    def backward(ctx, dout):
        q, k, v, out, lse, mask = ctx.saved_tensors
        causal, scale, chunk, dropout_p, seed = ctx.cfg
        Lq, H = q.shape[2], q.shape[1]
        Hkv, Lk = k.shape[1], k.shape[2]
        G = H // Hkv
        cdt = torch.float32 if q.dtype in _LOW_PRECISION else q.dtype
        dout = dout.contiguous()
        dq = torch.zeros(q.shape, dtype=cdt, device=q.device)
        dk = torch.zeros(k.shape, dtype=cdt, device=q.device)
        dv = torch.zeros(v.shape, dtype=cdt, device=q.device)
        tasks = list(_tasks(Lq, Lk, chunk, causal, mask is not None))
        for t, (j0, j1, r0, r1, mode) in enumerate(tasks):
            bm = _block_mask(mask, causal, Lq, Lk, j0, j1, r0, r1) if mode == _MASK else None
            dq_b, dk_b, dv_b = _task_backward(
                dout[:, :, r0:r1],
                q[:, :, r0:r1],
                _heads(k[:, :, j0:j1], G),
                _heads(v[:, :, j0:j1], G),
                out[:, :, r0:r1],
                lse[:, :, r0:r1],
                bm,
                mode,
                scale,
                dropout_p,
                seed + t,
                cdt,
            )
            dq[:, :, r0:r1] += dq_b
            dk[:, :, j0:j1] += _fold(dk_b, G)
            dv[:, :, j0:j1] += _fold(dv_b, G)
        return dq.to(q.dtype), dk.to(k.dtype), dv.to(v.dtype), None, None, None, None, None, None
