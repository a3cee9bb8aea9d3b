"""Batched beam search: all sentences and all beams in one tensor.

Each step scores the K x V continuations of every sentence's K live beams, takes the
best 2K, moves those ending in EOS (among the top K) to the sentence's finished list and
keeps the best K others alive (as fairseq does). A sentence is done when it has K
finished hypotheses or reaches its length limit (its live beams are then finished as
they are). Finished hypotheses are ranked by ``log_prob / ((5 + len) / 6) ** alpha``
(GNMT), with len counting EOS.

Notation for tensor shapes: B sentences, K beams, V vocabulary, Ls source length,
t steps taken so far.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

from attnkit.decoding.greedy import check_inputs, max_lengths
from attnkit.decoding.interface import Hypotheses, Hypothesis, StepDecoder
from attnkit.decoding.penalties import (
    block_loops,
    block_repeated_ngrams,
    gnmt_length_penalty,
    repeated_attention_penalty,
)
from attnkit.specials import BOS_ID, EOS_ID, UNK_ID


@torch.no_grad()
def beam_search(
    model: StepDecoder,
    src: Tensor,
    src_lengths: Tensor,
    *,
    beam_size: int,
    max_len: int | Sequence[int] | None = None,
    max_len_ratio: float | None = None,
    alpha: float = 0.0,
    n_best: int = 1,
    no_repeat_ngram_size: int = 0,
    max_repeat: int = 0,
    coverage_penalty: float = 0.0,
    block_unk: bool = False,
    bos_id: int = BOS_ID,
    eos_id: int = EOS_ID,
) -> Hypotheses:
    """Beam search for a batch of sentences. ``beam_size=1`` gives exactly greedy search.

    Call ``model.eval()`` first.

    Args:
        model: any :class:`StepDecoder`.
        src: (B, Ls) padded source ids.
        src_lengths: (B,) source lengths.
        beam_size: K, live hypotheses per sentence.
        max_len: at most this many output tokens (EOS not counted): one cap, or one per
            sentence.
        max_len_ratio: at most ``ceil(ratio * src_len)`` output tokens per sentence.
        alpha: GNMT length-penalty exponent (0 = rank by raw log-probability).
        n_best: hypotheses returned per sentence (<= beam_size), best first.
        no_repeat_ngram_size: if > 0, no n-gram of this size appears twice in an output.
        max_repeat: if > 0, no pattern of 1-4 tokens appears more than this many times in a
            row (:func:`~attnkit.decoding.penalties.block_loops`).
        coverage_penalty: if > 0 (and the model gives attention), finished hypotheses lose
            this times the attention each source position received beyond 1
            (:func:`~attnkit.decoding.penalties.repeated_attention_penalty`): saying the
            same thing twice costs.
        block_unk: never emit ``<unk>`` (a pointer-generator copies unknown words instead).
        bos_id: the first decoder input.
        eos_id: ends a hypothesis.

    Returns:
        :class:`Hypotheses`, ``n_best`` per sentence, sorted by score (best first).

    Raises:
        ValueError: on a bad beam_size / n_best / length limit.

    Example:
        >>> from attnkit.models.seq2seq import seq2seq_bahdanau_small
        >>> model = seq2seq_bahdanau_small(src_vocab=20, tgt_vocab=20).eval()
        >>> src, lengths = torch.randint(4, 20, (1, 5)), torch.tensor([5])
        >>> hyps = beam_search(model, src, lengths, beam_size=4, n_best=2, max_len_ratio=1.5)
        >>> len(hyps[0]), hyps[0][0].score >= hyps[0][1].score
        (2, True)
    """
    check_inputs(src, src_lengths)
    if beam_size < 1:
        raise ValueError(f"beam_size must be >= 1, got {beam_size}")
    if not 1 <= n_best <= beam_size:
        raise ValueError(f"n_best must be in [1, beam_size={beam_size}], got {n_best}")
    limits = max_lengths(src_lengths, max_len, max_len_ratio)
    device = src.device
    B, K = src.size(0), beam_size
    src_lens = src_lengths.tolist()

    enc = model.encode(src, src_lengths)
    state = model.init_decoder_state(enc)
    expand = torch.arange(B, device=device).repeat_interleave(K)  # (B*K,)
    enc, state = model.reorder(enc, state, expand)
    prev = torch.full((B * K,), bos_id, dtype=torch.long, device=device)
    scores = torch.zeros(B, K, device=device)  # cumulative log-prob of live beams
    scores[:, 1:] = float("-inf")  # all beams start identical: keep only the first
    hist = torch.empty(B * K, 0, dtype=torch.long, device=device)  # (B*K, t)
    hist_attn: Tensor | None = None  # (B*K, t, Ls)
    finals: list[list[Hypothesis]] = [[] for _ in range(B)]
    done = [False] * B
    alive = list(range(B))  # the sentences still searched, in row-block order

    for t in range(max(limits)):
        A = len(alive)  # rows are A blocks of K beams; finished sentences leave the batch
        base = (torch.arange(A, device=device) * K)[:, None]  # (A, 1) first row of each block
        log_probs, state, attn = model.decode_step(enc, state, prev)  # (A*K, V), (A*K, Ls)
        V = log_probs.size(-1)
        if attn is not None and hist_attn is None:
            hist_attn = attn.new_zeros(A * K, 0, attn.size(-1))
        if no_repeat_ngram_size > 0:
            log_probs = block_repeated_ngrams(log_probs, hist, no_repeat_ngram_size)
        if max_repeat > 0:
            log_probs = block_loops(log_probs, hist, max_repeat)
        if block_unk:
            log_probs[:, UNK_ID] = float("-inf")
        cand = log_probs.add_(scores.view(A * K, 1)).view(A, K * V)  # (A, K*V), in place
        n_cand = min(2 * K, K * V)
        top_scores, top_idx = cand.topk(n_cand, dim=1)  # (A, 2K)
        top_beam = torch.div(top_idx, V, rounding_mode="floor")  # (A, 2K)
        top_tok = top_idx % V  # (A, 2K)
        top_rows = base + top_beam  # (A, 2K) rows into the A*K tensors
        is_eos = top_tok == eos_id  # (A, 2K)

        # EOS among the top K: finish them (alive sentences, finite scores only).
        eos_hits = (is_eos[:, :K] & torch.isfinite(top_scores[:, :K])).nonzero().tolist()
        if eos_hits:
            sc = top_scores.tolist()
            rows = top_rows.tolist()
            for i, j in eos_hits:
                b = alive[i]
                if done[b]:
                    continue
                r = rows[i][j]
                finals[b].append(
                    _hypothesis(
                        hist[r],
                        hist_attn,
                        r,
                        sc[i][j],
                        t + 1,
                        alpha,
                        src_lens[b],
                        finished=True,
                        beta=coverage_penalty,
                    )
                )
                if len(finals[b]) >= K:
                    done[b] = True

        # Keep the best K candidates that are not EOS (there are at least K of the 2K).
        order = (is_eos.long() * n_cand + torch.arange(n_cand, device=device)).argsort(dim=1)
        keep = order[:, :K]  # (A, K)
        new_scores = top_scores.gather(1, keep)  # (A, K)
        new_tok = top_tok.gather(1, keep)  # (A, K)
        rows = top_rows.gather(1, keep).view(-1)  # (A*K,)

        hist = torch.cat([hist.index_select(0, rows), new_tok.view(-1, 1)], dim=1)
        if attn is not None:
            step_attn = attn.index_select(0, rows)[:, None, :]  # (A*K, 1, Ls)
            assert hist_attn is not None
            hist_attn = torch.cat([hist_attn.index_select(0, rows), step_attn], dim=1)
        _, state = model.reorder(None, state, rows)
        scores = new_scores
        prev = new_tok.view(-1)

        # Sentences at their length limit: finish their live beams as they are.
        ending = [i for i, b in enumerate(alive) if not done[b] and t + 1 >= limits[b]]
        if ending:
            sc = scores.tolist()
            for i in ending:
                b = alive[i]
                for k in range(K):
                    if sc[i][k] == float("-inf"):
                        continue
                    r = i * K + k
                    finals[b].append(
                        _hypothesis(
                            hist[r],
                            hist_attn,
                            r,
                            sc[i][k],
                            t + 1,
                            alpha,
                            src_lens[b],
                            finished=False,
                            beta=coverage_penalty,
                        )
                    )
                done[b] = True
        if all(done):
            break
        staying = [i for i, b in enumerate(alive) if not done[b]]
        if len(staying) < A:  # drop the finished sentences' rows: later steps cost less
            blocks = torch.tensor(staying, device=device)
            kept_rows = (blocks[:, None] * K + torch.arange(K, device=device)).view(-1)
            enc, state = model.reorder(enc, state, kept_rows)
            hist, prev, scores = hist[kept_rows], prev[kept_rows], scores[blocks]
            hist_attn = None if hist_attn is None else hist_attn[kept_rows]
            alive = [alive[i] for i in staying]

    out = []
    for b in range(B):
        ranked = sorted(finals[b], key=lambda h: h.score, reverse=True)
        out.append(ranked[:n_best])
    return Hypotheses(out)


def _hypothesis(
    tokens: Tensor,
    hist_attn: Tensor | None,
    row: int,
    log_prob: float,
    length: int,
    alpha: float,
    src_len: int,
    *,
    finished: bool,
    beta: float = 0.0,
) -> Hypothesis:
    """A finished hypothesis from row ``row`` of the histories.

    ``tokens`` excludes EOS; ``length`` (for the length penalty) counts every step taken;
    ``beta`` weighs the coverage penalty.
    """
    n = tokens.numel()
    att = None if hist_attn is None else hist_attn[row, :n, :src_len].clone()
    score = log_prob / float(gnmt_length_penalty(length, alpha)) if alpha else log_prob
    if beta and att is not None:
        score -= repeated_attention_penalty(att, beta)
    return Hypothesis(tokens.tolist(), score, log_prob, att, finished)
