"""Parallel-text preparation: encoding, collation, batch sizes that follow the corpus."""

import pytest

from attnkit.data import parallel
from attnkit.data.text import WordTokenizer


def _data(n_pairs: int, words: int = 4):
    tok = WordTokenizer.build([" ".join(f"w{i}" for i in range(20))])
    pairs = [(" ".join(f"w{(i + j) % 20}" for j in range(words)),) * 2 for i in range(n_pairs)]
    enc = parallel.encode_pairs(pairs, tok, tok)
    return parallel.ParallelData(tok, tok, ("t", "t"), enc, enc, len(pairs))


def test_batches_shrink_so_a_small_corpus_gets_enough_updates():
    # 100 pairs of 4 words: source 5 tokens (EOS), target 6 (BOS, EOS): 600 tokens an epoch
    small = _data(100)
    assert small.epoch_tokens() == 600
    cfg = parallel.ParallelDataConfig(max_tokens=6000, min_batches_per_epoch=50)
    assert small.batch_tokens(cfg) == 12  # 600 / 50
    batches = small.batches(0, max_tokens=small.batch_tokens(cfg), seed=0)
    assert len(batches) == 50 and all(b["src"].numel() <= 12 for b in batches)
    # a large corpus keeps the configured cap; the longest pair always fits
    assert _data(20_000, words=19).batch_tokens(cfg) == 6000  # 420,000 tokens / 50 > 6000
    assert small.batch_tokens(parallel.ParallelDataConfig(min_batches_per_epoch=1000)) == 6
    assert small.batch_tokens(parallel.ParallelDataConfig(max_tokens=300)) == 300


@pytest.mark.parametrize("max_len", [None, 3])
def test_encode_pairs_keeps_the_index_of_each_kept_pair(max_len):
    tok = WordTokenizer.build(["a b c d e"])
    pairs = [("a b", "c"), ("", "d"), ("a b c d", "e"), ("c", "d e")]
    enc = parallel.encode_pairs(pairs, tok, tok, max_len)
    assert [pairs[i][1] for i in enc.index] == enc.refs
    assert enc.index == ([0, 2, 3] if max_len is None else [0, 3])


def test_a_short_time_budget_shrinks_batches_in_proportion():
    big = _data(20_000, words=19)  # 420,000 tokens an epoch, the longest pair 21 tokens
    cfg = parallel.ParallelDataConfig(max_tokens=6000, full_batch_minutes=15)
    assert big.batch_tokens(cfg) == 6000  # no budget
    assert big.batch_tokens(cfg, budget_minutes=15) == 6000
    assert big.batch_tokens(cfg, budget_minutes=60) == 6000  # never above max_tokens
    assert big.batch_tokens(cfg, budget_minutes=3) == 1200  # 6000 x 3 / 15
    assert big.batch_tokens(cfg, budget_minutes=0.01) == 21  # the longest pair still fits
    off = parallel.ParallelDataConfig(max_tokens=6000)
    assert big.batch_tokens(off, budget_minutes=3) == 6000
    # with both rules, the smaller batch wins
    both = parallel.ParallelDataConfig(
        max_tokens=6000, min_batches_per_epoch=200, full_batch_minutes=15
    )
    assert big.batch_tokens(both) == 2100  # 420,000 / 200
    assert big.batch_tokens(both, budget_minutes=3) == 1200
