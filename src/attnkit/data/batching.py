"""Token-count batching with length bucketing, padding and length filters.

Sequences of similar length go in the same batch so little compute is spent on
padding, and a batch holds as many sequences as fit in ``max_tokens`` *counting the
padding*: a batch of ``B`` sequences padded to length ``L`` costs ``B * L`` tokens.
For translation pairs the cost is ``B * max(L_src, L_tgt)``, the larger of the two
padded tensors.

How :func:`token_batches` orders things (the fairseq / JoeyNMT recipe):

1. ``shuffle=False``: sort every index by length (ties by index), pack greedily,
   keep that order. Deterministic and seed-free; use it for evaluation.
2. ``shuffle=True``: permute the indices with a generator seeded by ``(seed, epoch)``,
   cut the permutation into buckets of ``bucket_size`` examples, sort each bucket by
   length, pack each bucket greedily, then shuffle the order of all batches with the
   same generator. A new epoch gives new batches; the same ``(seed, epoch)`` gives the
   same batches on every run and machine.

Every index appears in exactly one batch. An example longer than ``max_tokens`` on
its own still gets a batch of one (drop such examples first with
:func:`filter_by_length` if they must not be seen).

Example:
    >>> token_batches([3, 5, 2, 8], max_tokens=10, shuffle=False, seed=0, epoch=0)
    [[2, 0], [1], [3]]
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Any

import numpy as np
import torch

__all__ = [
    "CollatedBatches",
    "batch_cost",
    "filter_by_length",
    "pad_sequences",
    "token_batches",
]

Length = int | tuple[int, int]


def _as_array(lengths: Sequence[Length]) -> np.ndarray:
    """Lengths as an int64 array of shape (N, S), S = 1 (single) or 2 (src, tgt)."""
    if len(lengths) == 0:
        return np.zeros((0, 1), dtype=np.int64)
    arr = np.asarray(lengths, dtype=np.int64)
    if arr.ndim == 1:
        arr = arr[:, None]  # (N, 1)
    if arr.ndim != 2 or arr.shape[1] not in (1, 2):
        raise ValueError("lengths must be ints or (src_len, tgt_len) pairs")
    if (arr < 0).any():
        raise ValueError("lengths must be >= 0")
    return arr


def batch_cost(lengths: Sequence[Length]) -> int:
    """Padded token count of one batch: ``B * max length`` (the larger side for pairs)."""
    arr = _as_array(lengths)
    return int(len(arr) * arr.max()) if len(arr) else 0


def _pack(order: np.ndarray, longest: np.ndarray, max_tokens: int) -> list[list[int]]:
    """Greedily cut ``order`` into batches whose ``size * max(longest)`` fits max_tokens."""
    batches: list[list[int]] = []
    current: list[int] = []
    current_max = 0
    for idx in order.tolist():
        n = int(longest[idx])
        new_max = max(current_max, n)
        if current and (len(current) + 1) * new_max > max_tokens:
            batches.append(current)
            current, new_max = [], n
        current.append(idx)
        current_max = new_max
    if current:
        batches.append(current)
    return batches


def token_batches(
    lengths: Sequence[Length],
    max_tokens: int,
    *,
    shuffle: bool,
    seed: int,
    epoch: int,
    bucket_size: int | None = None,
    max_sentences: int | None = None,
) -> list[list[int]]:
    """Group example indices into batches of at most ``max_tokens`` padded tokens.

    Args:
        lengths: one length per example, or one ``(src_len, tgt_len)`` pair per example.
        max_tokens: the token budget of a batch, padding included.
        shuffle: bucket randomly and shuffle the batch order (training), or not (eval).
        seed: the run's seed.
        epoch: the epoch number (a new shuffle per epoch).
        bucket_size: examples per sorting bucket when shuffling; default: enough for about
            100 batches of median length. ``len(lengths)`` sorts globally.
        max_sentences: also cap the number of examples per batch.

    Returns:
        A list of batches, each a list of indices into ``lengths``, sorted by length
        within the batch.

    Raises:
        ValueError: ``max_tokens`` < 1, bad lengths.
    """
    if max_tokens < 1:
        raise ValueError(f"max_tokens must be >= 1, got {max_tokens}")
    if max_sentences is not None and max_sentences < 1:
        raise ValueError(f"max_sentences must be >= 1, got {max_sentences}")
    arr = _as_array(lengths)  # (N, S)
    n = len(arr)
    if n == 0:
        return []
    longest = arr.max(axis=1)  # (N,) the side that sets the padded size
    secondary = arr.sum(axis=1)  # tie-break: pairs with the same max sorted by total

    if not shuffle:
        order = np.lexsort((np.arange(n), secondary, longest))  # by longest, total, index
        batches = _pack(order, longest, max_tokens)
    else:
        rng = np.random.default_rng([int(seed), int(epoch)])
        perm = rng.permutation(n)
        if bucket_size is None:
            per_batch = max(1, max_tokens // max(1, int(np.median(longest))))
            bucket_size = per_batch * 100
        if bucket_size < 1:
            raise ValueError(f"bucket_size must be >= 1, got {bucket_size}")
        batches = []
        for start in range(0, n, bucket_size):
            bucket = perm[start : start + bucket_size]
            # stable sort within the bucket by (longest, total)
            key = np.lexsort((secondary[bucket], longest[bucket]))
            batches.extend(_pack(bucket[key], longest, max_tokens))
    if max_sentences is not None:
        batches = [
            b[i : i + max_sentences] for b in batches for i in range(0, len(b), max_sentences)
        ]
    if shuffle:
        order_of_batches = rng.permutation(len(batches))
        batches = [batches[i] for i in order_of_batches.tolist()]
    return batches


class CollatedBatches(Sequence):
    """Index groups made into batches on demand: ``batches[i] == collate(groups[i])``.

    A sequence, so the Trainer can give each rank its own batches, and skip the ones a resumed
    run already consumed, without collating the others; memory holds one batch at a time.

    Example:
        >>> batches = CollatedBatches([[0, 2], [1]], lambda idx: [10 * i for i in idx])
        >>> len(batches), batches[0], list(batches)
        (2, [0, 20], [[0, 20], [10]])
    """

    def __init__(self, groups: list[list[int]], collate: Callable[[list[int]], Any]) -> None:
        self.groups, self.collate = groups, collate

    def __len__(self) -> int:
        return len(self.groups)

    def __getitem__(self, i: int) -> Any:  # type: ignore[override]
        return self.collate(self.groups[i])

    def __iter__(self) -> Iterator[Any]:
        for idx in self.groups:
            yield self.collate(idx)


def pad_sequences(
    seqs: Sequence[Sequence[int]], pad_id: int = 0, *, max_len: int | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """Right-pad id sequences into one tensor.

    Args:
        seqs: B sequences of token ids (a sequence may be empty).
        pad_id: the id written in the padding.
        max_len: truncate longer sequences to this length.

    Returns:
        ``(ids, lengths)``: ids ``(B, L)`` int64 with ``L`` the longest (truncated)
        length, lengths ``(B,)`` int64.

    Raises:
        ValueError: ``seqs`` is empty.

    Example:
        >>> ids, lengths = pad_sequences([[5, 6, 7], [8]])
        >>> ids.tolist(), lengths.tolist()
        ([[5, 6, 7], [8, 0, 0]], [3, 1])
    """
    if len(seqs) == 0:
        raise ValueError("pad_sequences needs at least one sequence")
    if max_len is not None:
        seqs = [s[:max_len] for s in seqs]
    lengths = torch.tensor([len(s) for s in seqs], dtype=torch.long)  # (B,)
    width = int(lengths.max())
    ids = torch.full((len(seqs), width), pad_id, dtype=torch.long)  # (B, L)
    for row, seq in enumerate(seqs):
        if len(seq):
            ids[row, : len(seq)] = torch.as_tensor(list(seq), dtype=torch.long)
    return ids, lengths


def filter_by_length(
    lengths: Sequence[Length],
    *,
    min_len: int = 1,
    max_len: int | None = None,
    max_ratio: float | None = None,
) -> list[int]:
    """Indices of the examples whose every side has ``min_len <= length <= max_len``.

    Args:
        lengths: one length (or ``(src_len, tgt_len)`` pair) per example.
        min_len: shortest length kept (1 drops empty sequences).
        max_len: longest length kept (``None``: no limit).
        max_ratio: for pairs, also drop those whose longer side is more than this many
            times the shorter (misaligned pairs).

    Returns:
        The kept indices, in order.
    """
    arr = _as_array(lengths)  # (N, S)
    keep = (arr >= min_len).all(axis=1)
    if max_len is not None:
        keep &= (arr <= max_len).all(axis=1)
    if max_ratio is not None:
        if arr.shape[1] != 2:
            raise ValueError("max_ratio needs (src_len, tgt_len) pairs")
        lo = np.maximum(arr.min(axis=1), 1)
        keep &= arr.max(axis=1) <= max_ratio * lo
    return np.flatnonzero(keep).tolist()
