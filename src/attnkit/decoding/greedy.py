"""Greedy (arg-max) decoding, batched."""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import Tensor

from attnkit.decoding.interface import Hypotheses, Hypothesis, StepDecoder
from attnkit.decoding.penalties import block_loops
from attnkit.specials import BOS_ID, EOS_ID, UNK_ID


def max_lengths(
    src_lengths: Tensor, max_len: int | Sequence[int] | None, max_len_ratio: float | None
) -> list[int]:
    """Per-sentence output limit: min(max_len, ceil(max_len_ratio * src_len)), at least 1.

    ``max_len`` is one cap for the batch or one per sentence (what a sentence would get if
    it were decoded alone, so that batching never changes an output).

    Raises:
        ValueError: when neither limit is given or one is not positive.
    """
    if max_len is None and max_len_ratio is None:
        raise ValueError("give max_len and/or max_len_ratio")
    caps = [max_len] * len(src_lengths) if max_len is None or isinstance(max_len, int) else max_len
    if len(caps) != len(src_lengths):
        raise ValueError(f"{len(caps)} max_len values for {len(src_lengths)} sentences")
    if any(c is not None and c < 1 for c in caps):
        raise ValueError(f"max_len must be >= 1, got {max_len}")
    if max_len_ratio is not None and max_len_ratio <= 0:
        raise ValueError(f"max_len_ratio must be > 0, got {max_len_ratio}")
    limits = []
    for n, cap in zip(src_lengths.tolist(), caps, strict=True):
        lim = cap if cap is not None else math.inf
        if max_len_ratio is not None:
            lim = min(lim, math.ceil(max_len_ratio * n))
        limits.append(max(1, int(lim)))
    return limits


def check_inputs(src: Tensor, src_lengths: Tensor) -> None:
    """Raise ``ValueError`` unless ``src`` is ``(B, Ls)``, B >= 1, and ``src_lengths`` ``(B,)``."""
    if src.dim() != 2 or src_lengths.shape != src.shape[:1]:
        raise ValueError(
            f"src must be (B, Ls) and src_lengths (B,), got {tuple(src.shape)} and "
            f"{tuple(src_lengths.shape)}"
        )
    if src.size(0) == 0:
        raise ValueError("empty batch")


@torch.no_grad()
def greedy_search(
    model: StepDecoder,
    src: Tensor,
    src_lengths: Tensor,
    *,
    max_len: int | Sequence[int] | None = None,
    max_len_ratio: float | None = None,
    max_repeat: int = 0,
    block_unk: bool = False,
    bos_id: int = BOS_ID,
    eos_id: int = EOS_ID,
) -> Hypotheses:
    """Pick the most probable token at every step, for all sentences at once.

    Call ``model.eval()`` first (dropout is the caller's business).

    Args:
        model: any :class:`StepDecoder`.
        src: (B, Ls) padded source ids.
        src_lengths: (B,) source lengths.
        max_len: at most this many output tokens (EOS not counted): one cap, or one per
            sentence.
        max_len_ratio: at most ``ceil(ratio * src_len)`` output tokens per sentence.
        max_repeat: if > 0, no pattern of 1-4 tokens appears more than this many times in a
            row (:func:`~attnkit.decoding.penalties.block_loops`).
        block_unk: never emit ``<unk>`` (a pointer-generator copies unknown words instead).
        bos_id: the first decoder input.
        eos_id: stops a sentence.

    Returns:
        :class:`Hypotheses` with one hypothesis per sentence (score = log_prob).
    """
    check_inputs(src, src_lengths)
    limits = max_lengths(src_lengths, max_len, max_len_ratio)
    B, device = src.size(0), src.device
    enc = model.encode(src, src_lengths)
    state = model.init_decoder_state(enc)
    prev = torch.full((B,), bos_id, dtype=torch.long, device=device)
    score = torch.zeros(B, dtype=torch.float32, device=device)
    alive = torch.arange(B, device=device)  # (A,) the sentence of each row still decoded
    hist = torch.empty(B, 0, dtype=torch.long, device=device)  # (A, t) the rows' tokens
    steps: list[tuple[Tensor, Tensor, Tensor | None]] = []  # per step: rows, tokens, attention
    ended = [False] * B
    done_at = list(limits)  # number of steps each sentence took
    for t in range(max(limits)):
        log_probs, state, attn = model.decode_step(enc, state, prev)  # (A, V), (A, Ls)
        if max_repeat > 0 and t:
            log_probs = block_loops(log_probs, hist, max_repeat)
        if block_unk:
            log_probs[:, UNK_ID] = float("-inf")
        tok_lp, tok = log_probs.max(dim=-1)  # (A,)
        score[alive] += tok_lp
        steps.append((alive, tok, attn))
        hist = torch.cat([hist, tok[:, None]], dim=1)
        staying = []
        for row, (i, eos) in enumerate(zip(alive.tolist(), (tok == eos_id).tolist(), strict=True)):
            if eos:
                ended[i], done_at[i] = True, t + 1
            elif t + 1 >= limits[i]:
                done_at[i] = t + 1
            else:
                staying.append(row)
        if not staying:
            break
        if len(staying) < alive.numel():  # finished sentences leave: later steps cost less
            rows = torch.tensor(staying, device=device)
            enc, state = model.reorder(enc, state, rows)
            alive, tok, hist = alive[rows], tok[rows], hist[rows]
        prev = tok
    tok_mat = torch.zeros(B, len(steps), dtype=torch.long, device=device)  # (B, T)
    attn_mat = None  # (B, T, Ls)
    for t, (rows, tok, attn) in enumerate(steps):
        tok_mat[rows, t] = tok
        if attn is not None:
            if attn_mat is None:
                attn_mat = attn.new_zeros(B, len(steps), attn.size(-1))
            attn_mat[rows, t] = attn
    tok_rows, scores, lengths = tok_mat.tolist(), score.tolist(), src_lengths.tolist()
    out = []
    for i in range(B):
        n = done_at[i] - (1 if ended[i] else 0)
        att = None if attn_mat is None else attn_mat[i, :n, : lengths[i]].clone()
        out.append([Hypothesis(tok_rows[i][:n], scores[i], scores[i], att, finished=ended[i])])
    return Hypotheses(out)
