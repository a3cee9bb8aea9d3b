"""Decoding many encoded inputs with a seq2seq model: settings, length-sorted batches, search.

Every seq2seq task (translation, summarization) decodes its eval split, its CLI inputs and its
HTTP requests through :func:`decode_batched` with the :class:`DecodeConfig` of its run.

Example:
    >>> import torch
    >>> from attnkit.models.seq2seq import seq2seq_bahdanau_small
    >>> model = seq2seq_bahdanau_small(src_vocab=30, tgt_vocab=30).eval()
    >>> hyps = decode_batched(model, [[5, 6, 3], [7, 3]], DecodeConfig(beam_size=2, max_len=4),
    ...                       torch.device("cpu"))
    >>> len(hyps), all(len(h[0].tokens) <= 4 for h in hyps)
    (2, True)
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import torch
from tqdm import tqdm

from attnkit.data.batching import pad_sequences
from attnkit.decoding.beam import beam_search
from attnkit.decoding.greedy import greedy_search
from attnkit.decoding.interface import Hypothesis, StepDecoder
from attnkit.errors import AttnkitError
from attnkit.models.output import bf16_logits
from attnkit.training.trainer import resolve_bf16


@dataclass
class DecodeConfig:
    """Search settings of a seq2seq task, used by its eval, its CLI command and the server.

    Example:
        >>> DecodeConfig(beam_size=4, max_len=30).output_limit(100)  # 1.5 x 100 + 10, capped
        30
    """

    beam_size: int = 5
    alpha: float = 0.6  # GNMT length penalty exponent
    max_len_ratio: float = 1.5  # output tokens <= ratio * source tokens + 10
    max_len: int | None = None  # and <= this many (summaries: a fixed cap)
    n_best: int = 1
    no_repeat_ngram_size: int = 0
    max_repeat: int = 0  # > 0: no 1-4 token pattern more than this many times in a row
    coverage_penalty: float = 0.0  # > 0: score - this x attention beyond 1 per source token
    block_unk: bool = False  # never emit <unk> (a pointer-generator copies unknown words)
    batch_sentences: int = 64  # sentences decoded together
    max_input_tokens: int = 250  # longer inputs are refused by `attnkit translate`
    bf16: bool | Literal["auto"] = False  # output projection in bfloat16 (auto: where it is native)

    def __post_init__(self) -> None:
        if self.beam_size < 1:
            raise ValueError(f"decode.beam_size must be >= 1, got {self.beam_size}")
        if not 1 <= self.n_best <= self.beam_size:
            raise ValueError(
                f"decode.n_best must be between 1 and beam_size ({self.beam_size}), "
                f"got {self.n_best}"
            )
        if self.max_len is not None and self.max_len < 1:
            raise ValueError(f"decode.max_len must be >= 1 or null, got {self.max_len}")
        if self.bf16 not in (True, False, "auto"):
            raise ValueError(f"decode.bf16 must be true, false or auto, got {self.bf16!r}")
        for name in ("batch_sentences", "max_input_tokens"):
            if getattr(self, name) < 1:
                raise ValueError(f"decode.{name} must be >= 1, got {getattr(self, name)}")
        if (
            self.max_len_ratio <= 0
            or min(self.alpha, self.no_repeat_ngram_size, self.coverage_penalty) < 0
        ):
            raise ValueError(
                "decode.max_len_ratio must be > 0; alpha, no_repeat_ngram_size and "
                "coverage_penalty >= 0"
            )

    def with_search(self, *, beam: int | None = None, n_best: int = 1) -> DecodeConfig:
        """A copy with another beam size / n-best, checked (what a user asks per request).

        ``beam=None`` keeps the beam (widened to ``n_best`` when that is larger).

        Raises:
            AttnkitError: a beam or n-best below 1, or n-best above the beam.
        """
        if beam is not None and beam < 1:
            raise AttnkitError(f"beam size must be at least 1, got {beam}")
        if n_best < 1:
            raise AttnkitError(f"n-best must be at least 1, got {n_best}")
        if beam is not None and n_best > beam:
            raise AttnkitError(f"n-best ({n_best}) cannot exceed the beam size ({beam})")
        size = max(self.beam_size, n_best) if beam is None else beam
        return dataclasses.replace(self, beam_size=size, n_best=n_best)

    def output_limit(self, source_tokens: int) -> int:
        """Output tokens allowed for a source of this many tokens."""
        limit = int(self.max_len_ratio * source_tokens) + 10
        return limit if self.max_len is None else min(limit, self.max_len)


@torch.no_grad()
def decode_batched(
    model: StepDecoder,
    src: Sequence[list[int]],
    cfg: DecodeConfig,
    device: torch.device,
    *,
    greedy: bool = False,
    progress: str | None = None,
) -> list[list[Hypothesis]]:
    """Decode encoded inputs (in batches, sorted by length); n-best lists in input order.

    ``greedy`` ignores the beam settings; ``progress`` names a progress bar (items/s on
    stderr, shown on terminals only). ``cfg.bf16`` puts each step's output projection in
    bfloat16 (:func:`attnkit.models.output.bf16_logits`).
    """
    with bf16_logits(resolve_bf16(cfg.bf16, device)):
        return _decode_sorted(model, src, cfg, device, greedy, progress)


def _decode_sorted(model, src, d: DecodeConfig, device, greedy: bool, progress: str | None):
    """:func:`decode_batched`'s loop: batches of similar lengths, results in input order."""
    order = sorted(range(len(src)), key=lambda i: len(src[i]))
    results: list = [None] * len(src)
    # disable=None: tqdm draws the bar only when stderr is a terminal
    bar = tqdm(total=len(src), desc=progress, unit="sent", disable=None if progress else True)
    for start in range(0, len(order), d.batch_sentences):
        idx = order[start : start + d.batch_sentences]
        batch, lengths = pad_sequences([src[i] for i in idx])  # (B, Ls), (B,)
        batch = batch.to(device)
        max_len = [d.output_limit(n) for n in lengths.tolist()]  # each as if decoded alone
        if greedy:
            hyps = greedy_search(
                model, batch, lengths, max_len=max_len, max_repeat=d.max_repeat,
                block_unk=d.block_unk,
            )  # fmt: skip
        else:
            hyps = beam_search(
                model,
                batch,
                lengths,
                beam_size=d.beam_size,
                max_len=max_len,
                alpha=d.alpha,
                n_best=d.n_best,
                no_repeat_ngram_size=d.no_repeat_ngram_size,
                max_repeat=d.max_repeat,
                coverage_penalty=d.coverage_penalty,
                block_unk=d.block_unk,
            )
        for i, nbest in zip(idx, hyps, strict=True):
            results[i] = nbest
        bar.update(len(idx))
    bar.close()
    return results
