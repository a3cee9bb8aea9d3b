"""Token-count batching: budget, coverage, determinism; padding; length filters."""

from __future__ import annotations

import random

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from attnkit.data.batching import batch_cost, filter_by_length, pad_sequences, token_batches


def check_partition(batches: list[list[int]], n: int) -> None:
    flat = [i for b in batches for i in b]
    assert sorted(flat) == list(range(n)), "every index exactly once"
    assert all(b for b in batches), "no empty batch"


def check_budget(batches, lengths, max_tokens: int) -> None:
    for b in batches:
        assert len(b) == 1 or batch_cost([lengths[i] for i in b]) <= max_tokens


@given(
    lengths=st.lists(st.integers(0, 60), max_size=200),
    max_tokens=st.integers(1, 300),
    shuffle=st.booleans(),
    seed=st.integers(0, 3),
    epoch=st.integers(0, 3),
)
@settings(max_examples=150, deadline=None)
def test_single_lengths_property(lengths, max_tokens, shuffle, seed, epoch) -> None:
    batches = token_batches(lengths, max_tokens, shuffle=shuffle, seed=seed, epoch=epoch)
    check_partition(batches, len(lengths))
    check_budget(batches, lengths, max_tokens)
    assert batches == token_batches(lengths, max_tokens, shuffle=shuffle, seed=seed, epoch=epoch)


@given(
    lengths=st.lists(st.tuples(st.integers(1, 50), st.integers(1, 50)), max_size=150),
    max_tokens=st.integers(1, 400),
    bucket=st.one_of(st.none(), st.integers(1, 64)),
)
@settings(max_examples=100, deadline=None)
def test_pair_lengths_property(lengths, max_tokens, bucket) -> None:
    batches = token_batches(
        lengths, max_tokens, shuffle=True, seed=1, epoch=2, bucket_size=bucket, max_sentences=7
    )
    check_partition(batches, len(lengths))
    check_budget(batches, lengths, max_tokens)
    assert all(len(b) <= 7 for b in batches)


def test_pair_cost_counts_the_longer_side() -> None:
    assert batch_cost([(3, 10), (5, 2)]) == 2 * 10
    assert batch_cost([4, 1, 2]) == 12
    assert batch_cost([]) == 0


def test_sorted_without_shuffle() -> None:
    lengths = [7, 1, 4, 4, 9, 2]
    batches = token_batches(lengths, 8, shuffle=False, seed=0, epoch=0)
    assert batches == [[1, 5], [2, 3], [0], [4]]  # 1,2 | 4,4 (2*4 = 8 fits) | 7 | 9
    flat = [lengths[i] for b in batches for i in b]
    assert flat == sorted(flat)


def test_shuffle_depends_on_seed_and_epoch_only() -> None:
    rng = random.Random(0)
    lengths = [rng.randint(1, 40) for _ in range(500)]
    a = token_batches(lengths, 200, shuffle=True, seed=3, epoch=0)
    assert a == token_batches(lengths, 200, shuffle=True, seed=3, epoch=0)
    assert a != token_batches(lengths, 200, shuffle=True, seed=3, epoch=1)
    assert a != token_batches(lengths, 200, shuffle=True, seed=4, epoch=0)


def test_buckets_keep_padding_low() -> None:
    rng = random.Random(0)
    lengths = [rng.randint(1, 100) for _ in range(2000)]
    batches = token_batches(lengths, 1000, shuffle=True, seed=0, epoch=0)
    padded = sum(batch_cost([lengths[i] for i in b]) for b in batches)
    assert padded < 1.15 * sum(lengths)  # random batches would pad ~2x


def test_too_long_example_gets_its_own_batch() -> None:
    assert token_batches([50, 3], 10, shuffle=False, seed=0, epoch=0) == [[1], [0]]


def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match="max_tokens"):
        token_batches([1], 0, shuffle=False, seed=0, epoch=0)
    with pytest.raises(ValueError, match=">= 0"):
        token_batches([-1], 10, shuffle=False, seed=0, epoch=0)
    with pytest.raises(ValueError, match="pairs"):
        token_batches([(1, 2, 3)], 10, shuffle=False, seed=0, epoch=0)
    assert token_batches([], 10, shuffle=True, seed=0, epoch=0) == []


def test_pad_sequences() -> None:
    ids, lengths = pad_sequences([[5, 6, 7], [], [8]], pad_id=0)
    assert ids.dtype == torch.long and lengths.dtype == torch.long
    assert ids.tolist() == [[5, 6, 7], [0, 0, 0], [8, 0, 0]]
    assert lengths.tolist() == [3, 0, 1]
    ids, lengths = pad_sequences([[1, 2, 3, 4], [5]], pad_id=9, max_len=2)
    assert ids.tolist() == [[1, 2], [5, 9]] and lengths.tolist() == [2, 1]
    ids, lengths = pad_sequences([[], []])
    assert ids.shape == (2, 0)
    with pytest.raises(ValueError, match="at least one"):
        pad_sequences([])


def test_filter_by_length() -> None:
    assert filter_by_length([0, 3, 10, 5], max_len=5) == [1, 3]
    assert filter_by_length([0, 3], min_len=0) == [0, 1]
    pairs = [(3, 4), (0, 2), (10, 1), (5, 60)]
    assert filter_by_length(pairs, max_len=50) == [0, 2]
    assert filter_by_length(pairs, max_ratio=3.0) == [0]
    with pytest.raises(ValueError, match="pairs"):
        filter_by_length([1, 2], max_ratio=2.0)
