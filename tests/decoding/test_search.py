"""Greedy and beam search: exactness on a toy Markov model (brute force), beam 1 == greedy,
ranking, length limits, length penalty, n-gram blocking, and a real Seq2Seq model."""

from __future__ import annotations

import itertools
import math

import pytest
import torch
from torch import Tensor

from attnkit.decoding import (
    Hypotheses,
    StepDecoder,
    beam_search,
    block_loops,
    block_repeated_ngrams,
    gnmt_length_penalty,
    greedy_search,
)

BOS, EOS = 2, 3


class MarkovModel:
    """A StepDecoder with no network: next-token log-probs depend on (sentence, prev token).

    The attention is a softmax over the real source positions that depends on the
    previous token, so it can be checked and reordered like a real model's.
    """

    def __init__(self, vocab: int = 6, seed: int = 0, temperature: float = 2.0) -> None:
        g = torch.Generator().manual_seed(seed)
        self.vocab = vocab
        self.table = (torch.randn(4, vocab, vocab, generator=g) * temperature).log_softmax(-1)
        self.table[:, :, 0] = float("-inf")  # never PAD
        self.table = self.table.log_softmax(-1)
        self.att = torch.randn(vocab, 16, generator=g)

    def encode(self, src: Tensor, src_lengths: Tensor) -> dict[str, Tensor]:
        mask = torch.arange(src.size(1))[None, :] < src_lengths[:, None]
        return {"sid": src[:, 0] % 4, "mask": mask}

    def init_decoder_state(self, enc: dict[str, Tensor]) -> Tensor:
        return torch.zeros(enc["sid"].size(0))

    def decode_step(self, enc, state, prev_tokens):
        log_probs = self.table[enc["sid"], prev_tokens]  # (B, V)
        ls = enc["mask"].size(1)
        scores = self.att[prev_tokens, :ls].masked_fill(~enc["mask"], float("-inf"))
        return log_probs.clone(), state + 1, scores.softmax(-1)

    def reorder(self, enc, state, indices):
        enc = None if enc is None else {k: v.index_select(0, indices) for k, v in enc.items()}
        return enc, state.index_select(0, indices)

    def sequence_log_prob(self, sid: int, tokens: list[int], eos: bool) -> float:
        prev, total = BOS, 0.0
        for tok in [*tokens, *([EOS] if eos else [])]:
            total += float(self.table[sid, prev, tok])
            prev = tok
        return total


def brute_force(
    model: MarkovModel, sid: int, max_len: int, alpha: float
) -> tuple[float, list[int]]:
    """The best sequence by enumeration: EOS-ended (< max_len tokens + EOS) or max_len tokens."""
    best = (-math.inf, [])
    words = [v for v in range(1, model.vocab) if v != EOS]
    for n in range(max_len + 1):
        for toks in itertools.product(words, repeat=n):
            for eos in [True, False] if n == max_len else [True]:
                if n == max_len and eos:
                    continue  # EOS would be token max_len + 1
                lp = model.sequence_log_prob(sid, list(toks), eos)
                score = lp / gnmt_length_penalty(n + eos, alpha)
                if score > best[0]:
                    best = (score, list(toks))
    return best


def sources(B: int = 4) -> tuple[Tensor, Tensor]:
    lengths = torch.tensor([5, 3, 1, 4][:B])
    src = torch.zeros(B, 5, dtype=torch.long)
    for i, n in enumerate(lengths.tolist()):
        src[i, :n] = torch.arange(4, 4 + n) + i  # first token -> sentence id (mod 4)
    return src, lengths


def test_markov_model_implements_the_protocol():
    assert isinstance(MarkovModel(), StepDecoder)


@pytest.mark.parametrize("alpha", [0.0, 1.0])
def test_wide_beam_finds_the_exact_best_sequence(alpha):
    model = MarkovModel(vocab=5, seed=1, temperature=1.0)
    src, lengths = sources()
    hyps = beam_search(model, src, lengths, beam_size=64, max_len=3, alpha=alpha)
    for i in range(4):
        score, toks = brute_force(model, int(src[i, 0]) % 4, 3, alpha)
        assert hyps[i][0].tokens == toks
        assert hyps[i][0].score == pytest.approx(score, abs=1e-5)


@pytest.mark.parametrize("seed", range(5))
def test_beam_size_one_equals_greedy(seed):
    model = MarkovModel(vocab=7, seed=seed, temperature=1.5)
    src, lengths = sources()
    greedy = greedy_search(model, src, lengths, max_len=6)
    beam = beam_search(model, src, lengths, beam_size=1, max_len=6)
    for g, b in zip(greedy.best(), beam.best(), strict=True):
        assert g.tokens == b.tokens
        assert g.score == b.score and g.log_prob == b.log_prob
        assert g.finished == b.finished
        assert torch.equal(g.attention, b.attention)


def test_scores_are_sequence_log_probs_and_nbest_is_sorted():
    model = MarkovModel(vocab=7, seed=3)
    src, lengths = sources()
    hyps = beam_search(model, src, lengths, beam_size=5, max_len=6, n_best=5, alpha=0.0)
    assert isinstance(hyps, Hypotheses) and len(hyps) == 4
    for i, nbest in enumerate(hyps):
        assert len(nbest) == 5
        scores = [h.score for h in nbest]
        assert scores == sorted(scores, reverse=True)
        for h in nbest:
            expected = model.sequence_log_prob(int(src[i, 0]) % 4, h.tokens, h.finished)
            assert h.log_prob == pytest.approx(expected, abs=1e-5)
            assert len(h.tokens) <= 6 and EOS not in h.tokens
            assert h.attention.shape == (len(h.tokens), int(lengths[i]))


def test_length_penalty_and_its_effect():
    assert gnmt_length_penalty(1, 0.0) == 1.0
    assert gnmt_length_penalty(7, 1.0) == pytest.approx(2.0)
    assert gnmt_length_penalty(1, 0.6) == pytest.approx(1.0)
    model = MarkovModel(vocab=7, seed=4)
    src, lengths = sources()
    raw = beam_search(model, src, lengths, beam_size=4, max_len=8, n_best=4, alpha=0.0)
    pen = beam_search(model, src, lengths, beam_size=4, max_len=8, n_best=4, alpha=2.0)
    for nbest in pen:
        for h in nbest:
            length = len(h.tokens) + h.finished
            assert h.score == pytest.approx(h.log_prob / ((5 + length) / 6) ** 2.0)
    # a length reward never makes the best output shorter on average
    mean = lambda hs: sum(len(h.tokens) for h in hs.best()) / len(hs)  # noqa: E731
    assert mean(pen) >= mean(raw)


def test_length_limits():
    model = MarkovModel(vocab=7, seed=0)
    model.table[:, :, EOS] = -1e9  # never stop by itself
    src, lengths = sources()
    for search in (greedy_search, lambda *a, **k: beam_search(*a, beam_size=3, **k)):
        hyps = search(model, src, lengths, max_len_ratio=1.5)
        assert [len(h.tokens) for h in hyps.best()] == [8, 5, 2, 6]
        assert not any(h.finished for h in hyps.best())
        hyps = search(model, src, lengths, max_len=4, max_len_ratio=1.5)
        assert [len(h.tokens) for h in hyps.best()] == [4, 4, 2, 4]
    with pytest.raises(ValueError, match="max_len"):
        greedy_search(model, src, lengths)
    with pytest.raises(ValueError, match="n_best"):
        beam_search(model, src, lengths, beam_size=2, n_best=3, max_len=3)


def test_block_repeated_ngrams_by_hand():
    history = torch.tensor([[5, 6, 5], [5, 6, 7]])
    lp = block_repeated_ngrams(torch.zeros(2, 9), history, 2)
    # row 0 ends in 5 and "5 6" was seen: 6 is blocked; row 1 ends in 7, never followed
    assert torch.isinf(lp[0, 6]) and torch.isfinite(lp[0]).sum() == 8
    assert torch.isfinite(lp[1]).all()
    lp = block_repeated_ngrams(torch.zeros(2, 9), history, 3)
    assert torch.isfinite(lp[0]).all()  # "6 5 x" never seen
    lp = block_repeated_ngrams(torch.zeros(2, 9), history, 1)
    assert torch.isinf(lp[1, [5, 6, 7]]).all() and torch.isfinite(lp[1]).sum() == 6


@pytest.mark.parametrize("n", [1, 2, 3])
def test_no_repeat_ngram_outputs(n):
    model = MarkovModel(vocab=9, seed=2, temperature=3.0)
    model.table[:, :, EOS] = -1e9
    src, lengths = sources()
    hyps = beam_search(
        model, src, lengths, beam_size=3, max_len=6, n_best=3, no_repeat_ngram_size=n
    )
    for nbest in hyps:
        for h in nbest:
            grams = [tuple(h.tokens[i : i + n]) for i in range(len(h.tokens) - n + 1)]
            assert len(grams) == len(set(grams))


# ----------------------------------------------------------------- with a real model


@pytest.fixture(scope="module")
def seq2seq():
    from attnkit.models.seq2seq import Seq2Seq, Seq2SeqConfig

    torch.manual_seed(0)
    model = Seq2Seq(
        Seq2SeqConfig(
            emb_dim=16,
            hidden_dim=32,
            rnn="lstm",
            self_attention_heads=2,
            dropout=0.0,
            tie_embeddings=False,
        ),
        src_vocab=20,
        tgt_vocab=15,
    )
    # sharpen the output distribution so that search has something to find
    with torch.no_grad():
        model.output.weight.mul_(4.0)
    g = torch.Generator().manual_seed(5)
    lengths = torch.tensor([6, 2, 5, 1, 4, 6])
    src = torch.randint(4, 20, (6, 6), generator=g)
    src[torch.arange(6)[None, :] >= lengths[:, None]] = 0
    return model.eval(), src, lengths


def test_seq2seq_beam_one_equals_greedy_and_beam_beats_greedy(seq2seq):
    model, src, lengths = seq2seq
    greedy = greedy_search(model, src, lengths, max_len=10)
    one = beam_search(model, src, lengths, beam_size=1, max_len=10)
    five = beam_search(model, src, lengths, beam_size=5, max_len=10, n_best=5)
    for i, (g, b) in enumerate(zip(greedy.best(), one.best(), strict=True)):
        assert g.tokens == b.tokens and g.score == b.score
        assert torch.equal(g.attention, b.attention)
        assert five[i][0].score >= g.score - 1e-6
        assert [h.score for h in five[i]] == sorted((h.score for h in five[i]), reverse=True)


def test_seq2seq_search_scores_match_teacher_forcing(seq2seq):
    """A hypothesis' log_prob and attention equal the model's teacher-forced ones."""
    model, src, lengths = seq2seq
    hyps = beam_search(model, src, lengths, beam_size=3, max_len=10, n_best=3)
    for i in range(src.size(0)):
        for h in hyps[i]:
            out = [*h.tokens, *([3] if h.finished else [])]
            tgt_in = torch.tensor([[2, *out[:-1]]])
            with torch.no_grad():
                logits, attn = model(src[i : i + 1], lengths[i : i + 1], tgt_in)
            lp = logits.log_softmax(-1)[0, torch.arange(len(out)), torch.tensor(out)].sum()
            assert h.log_prob == pytest.approx(float(lp), abs=1e-4)
            n, L = len(h.tokens), int(lengths[i])
            torch.testing.assert_close(h.attention, attn[0, :n, :L], atol=1e-5, rtol=1e-4)
            torch.testing.assert_close(h.attention.sum(-1), torch.ones(n))


def test_greedy_is_batch_independent(seq2seq):
    model, src, lengths = seq2seq
    batched = greedy_search(model, src, lengths, max_len=10)
    for i in range(src.size(0)):
        L = int(lengths[i])
        alone = greedy_search(model, src[i : i + 1, :L], lengths[i : i + 1], max_len=10)
        assert alone[0][0].tokens == batched[i][0].tokens
        assert alone[0][0].score == pytest.approx(batched[i][0].score, abs=1e-4)


def test_block_loops_against_a_loop():
    g = torch.Generator().manual_seed(3)
    for _ in range(200):
        length = int(torch.randint(0, 9, (1,), generator=g))
        hist = torch.randint(4, 6, (5, length), generator=g)  # two tokens: many repeats
        for max_run in (1, 2, 3):
            got = block_loops(torch.zeros(5, 8), hist, max_run, max_span=3)
            for b in range(5):
                row, blocked = hist[b].tolist(), set()
                for span in (1, 2, 3):
                    tail = row[len(row) - span * max_run :]
                    if len(tail) == span * max_run and tail == tail[:span] * max_run:
                        blocked.add(tail[0])
                assert {v for v in range(8) if got[b, v] == float("-inf")} == blocked


class LoopingModel(MarkovModel):
    """Prefers repeating its previous token forever (EOS very unlikely): a looping decoder."""

    def decode_step(self, enc, state, prev_tokens):
        lp, state, attn = super().decode_step(enc, state, prev_tokens)
        lp = torch.full_like(lp, -5.0)
        lp[:, EOS], lp[:, 0] = -9.0, float("-inf")  # EOS unlikely, PAD never
        lp[torch.arange(len(prev_tokens)), torch.where(prev_tokens == BOS, 4, prev_tokens)] = -0.01
        return lp, state, attn


@pytest.mark.parametrize("search", ["greedy", "beam"])
def test_max_repeat_ends_loops(search):
    model = LoopingModel()
    src, lengths = torch.tensor([[4, 5, 4]]), torch.tensor([3])

    def decode(**kw):
        if search == "greedy":
            return greedy_search(model, src, lengths, max_len=12, **kw)[0][0].tokens
        return beam_search(model, src, lengths, beam_size=3, max_len=12, **kw)[0][0].tokens

    assert decode() == [4] * 12  # unguarded, it loops to the length limit
    guarded = decode(max_repeat=3)
    assert max(len(list(run)) for _, run in itertools.groupby(guarded)) <= 3
    assert len(guarded) == 12 and guarded[:3] == [4, 4, 4]  # it goes on, out of the loop


@pytest.mark.parametrize("search", ["greedy", "beam"])
def test_block_unk_never_emits_unk(search):
    from attnkit.models.seq2seq import Seq2Seq, Seq2SeqConfig
    from attnkit.specials import UNK_ID

    torch.manual_seed(0)
    cfg = Seq2SeqConfig(emb_dim=8, hidden_dim=8, tie_embeddings=False)
    model = Seq2Seq(cfg, src_vocab=12, tgt_vocab=12).eval()
    with torch.no_grad():
        model.output.bias[UNK_ID] = 50.0  # <unk> is by far the most likely word everywhere
    src, lengths = torch.randint(4, 12, (3, 5)), torch.tensor([5, 4, 2])

    def run(block: bool):
        if search == "greedy":
            return greedy_search(model, src, lengths, max_len=6, block_unk=block)
        return beam_search(model, src, lengths, beam_size=3, max_len=6, block_unk=block)

    assert all(t == UNK_ID for tokens in run(False).tokens() for t in tokens)
    blocked = run(True).tokens()
    assert all(UNK_ID not in tokens for tokens in blocked)


@pytest.mark.parametrize("greedy", [True, False])
def test_decode_batched_gives_each_input_its_own_length_limit(seq2seq, greedy):
    """An untrained model runs to its limit: batched with a long input, a short input must
    still stop where it stops alone (the limit follows its own length, not the batch's)."""
    from attnkit.decoding.batched import DecodeConfig, decode_batched

    model, src, lengths = seq2seq
    inputs = [src[i, : int(lengths[i])].tolist() for i in range(src.size(0))]
    cfg = DecodeConfig(beam_size=2, max_len_ratio=1.0, max_repeat=0, batch_sentences=64)
    batched = decode_batched(model, inputs, cfg, torch.device("cpu"), greedy=greedy)
    limits = {len(x): int(1.0 * len(x)) + 10 for x in inputs}
    hit = 0
    for x, hyps in zip(inputs, batched, strict=True):
        alone = decode_batched(model, [x], cfg, torch.device("cpu"), greedy=greedy)[0]
        assert [h.tokens for h in hyps] == [h.tokens for h in alone]
        assert hyps[0].score == pytest.approx(alone[0].score, abs=1e-4)
        assert len(hyps[0].tokens) <= limits[len(x)]
        hit += len(hyps[0].tokens) == limits[len(x)]
    assert hit >= 1  # some input really ran to its limit, else the test shows nothing


def _counting_rows(model):
    """``model`` with its ``decode_step`` counting the rows of each step, and that count."""
    rows_per_step: list[int] = []

    class Spy:
        def __getattr__(self, name):
            return getattr(model, name)

        def decode_step(self, enc, state, prev):
            rows_per_step.append(prev.size(0))
            return model.decode_step(enc, state, prev)

    return Spy(), rows_per_step


def test_beam_search_drops_finished_sentences_from_the_batch(seq2seq):
    """Rows of a finished sentence leave the batch (later steps cost less) and the results
    stay those of each sentence searched alone."""
    model, src, lengths = seq2seq
    spy, rows_per_step = _counting_rows(model)
    limits = [2, 9, 4, 12, 3, 7]  # sentences stop at different steps
    batched = beam_search(spy, src, lengths, beam_size=3, max_len=limits, n_best=2)
    assert rows_per_step[0] == 3 * src.size(0) and rows_per_step[-1] < rows_per_step[0]
    assert rows_per_step == sorted(rows_per_step, reverse=True)
    for i in range(src.size(0)):
        L = int(lengths[i])
        alone = beam_search(
            model, src[i : i + 1, :L], lengths[i : i + 1], beam_size=3, max_len=limits[i], n_best=2
        )
        assert [h.tokens for h in alone[0]] == [h.tokens for h in batched[i]]
        for a, b in zip(alone[0], batched[i], strict=True):
            assert a.score == pytest.approx(b.score, abs=1e-4)
            torch.testing.assert_close(a.attention, b.attention, atol=1e-5, rtol=1e-4)


def test_greedy_drops_finished_sentences_from_the_batch(seq2seq):
    """Greedy search too: a sentence at its limit (or EOS) leaves the batch, and every
    sentence gets what it gets alone: tokens, score, attention."""
    model, src, lengths = seq2seq
    spy, rows_per_step = _counting_rows(model)
    limits = [2, 9, 4, 12, 3, 7]
    batched = greedy_search(spy, src, lengths, max_len=limits)
    assert rows_per_step[0] == src.size(0) and rows_per_step[-1] == 1
    assert rows_per_step == sorted(rows_per_step, reverse=True)
    for i in range(src.size(0)):
        L = int(lengths[i])
        alone = greedy_search(model, src[i : i + 1, :L], lengths[i : i + 1], max_len=limits[i])
        a, b = alone[0][0], batched[i][0]
        assert a.tokens == b.tokens and a.finished == b.finished
        assert a.score == pytest.approx(b.score, abs=1e-4)
        torch.testing.assert_close(a.attention, b.attention, atol=1e-5, rtol=1e-4)
